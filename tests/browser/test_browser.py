"""The notebook experience in a real browser: the README quick start with both LR finders, and the binary-classification
tutorial, each run with JupyterLab's *Run All Cells* in headless Chromium and checked from the page's DOM.

Run with `make test-browser`, `pytest -s tests/browser` or `LUMIN_BROWSER=1 pytest tests` (a plain `pytest tests`
leaves this folder out: see conftest.py). Without chromium, chromedriver, selenium or jupyterlab the browser tests are
skipped with the reason, unless LUMIN_BROWSER_STRICT=1 (CI) makes that a failure. Both notebooks run on one JupyterLab
server and one browser, each in a fresh tab with its own kernel (the first notebook's kernel is shut down before the
second opens). Screenshots, the page's HTML, the cells' states and the browser console go to one subfolder per
notebook of `$LUMIN_BROWSER_ARTEFACTS` (default: a new `/tmp/lumin-browser-*` folder); their paths are printed. Each
notebook's test, the first one including the start of server and browser, must take under two minutes
(LUMIN_BROWSER_TIME_LIMIT=seconds changes that on a machine busy with other jobs)."""
from __future__ import annotations
import ast, contextlib, json, os, re, shutil, signal, tempfile, time
from pathlib import Path

import pytest

from browser_lab import (KERNEL_NAME, api, chromium, kernel_cpu_seconds, lab_server, missing_requirements, start_session,
                         stop_sessions)

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE/'quick_start.ipynb'
README = HERE.parents[1]/'README.md'
# The tutorial that runs quickest at the test suite's size (about 15 s of kernel CPU here, imports and inline plots
# included; the others 1.5-10 times that in the notebook runner) and draws the most plots: seven, with two live panels.
TUTORIAL = HERE.parents[1]/'nbs'/'tutorials'/'01_binary_classification.ipynb'
TEST_TUTORIALS = HERE.parent/'test_tutorials.py'  # the notebook runner's CI sizes, which the tutorial's kernel gets too
PAGE_TIMEOUT = 45.  # seconds for JupyterLab to open the notebook and show its kernel idle (5-15 s here)
# Run All Cells of the quick start takes 10-20 s on an idle 2-core machine, 50-220 s while other heavy jobs share it (its
# kernel uses 70-90 s of CPU); the tutorial's takes 20-55 s on a busy machine. Each test must stay
# under TOTAL_LIMIT (LUMIN_BROWSER_TIME_LIMIT raises it on a loaded machine); RUN_TIMEOUT stops waiting a little later
# so that a slow run still reports what the page showed.
TOTAL_LIMIT = float(os.environ.get('LUMIN_BROWSER_TIME_LIMIT', 120))
RUN_TIMEOUT = TOTAL_LIMIT + 30.
WATCHDOG = int(TOTAL_LIMIT) + 120  # SIGALRM aborts a test; the fixture's context managers still stop server and browser
# The code cells with a live panel, found by their first statement (unique in the notebook).
CELLS = {'train': 'results, histories, _ = train_models(', 'lr_find': 'lr_finders = lr_find(',
         'fold_lr_find': 'fold_finders = fold_lr_find('}
TUTORIAL_CELLS = {'lr_find': 'lr_finders = lr_find(', 'train': 'results, histories, _ = train_models('}
# A tutorial cell that calls one of these draws a figure, which the page must show as an image at least this large
# (pixels) with at least this fraction of its pixels drawn on (not the background colour).
PLOT_CALL = re.compile(r'(?<![\w.])(plot_\w+|show_fig|lr_find|fold_lr_find|train_models)\(')
MIN_PLOT_SIZE, MIN_INK = (400, 250), 0.01
# Cells that show the very same image, by design, as (first cell's marker, second cell's marker): a note, not a fault.
# The tutorial draws `plot_train_history(histories)` right after `train_models`, whose closing summary is that plot.
SAME_IMAGE_OK: list = []  # (first cell, second cell) pairs allowed to show the same image: none
# What the tutorial prints, and the bound its prose promises and its asserts check: (label, regex, lower, upper).
TUTORIAL_NUMBERS = [('lowest smoothed loss at lr', r'smoothed loss lowest at lr = ([-+.e0-9]+)', 1e-3, 1.),
                    ('weighted ROC AUC on the test events', r'weighted ROC AUC on the test events: ([.0-9]+)', 0.93, 1.),
                    ('AMS at the best cut', r'fb⁻¹: AMS = ([.0-9]+)', 3., float('inf'))]
# Console messages known to be harmless: (regex, why). A run also logs two DEBUG lines and one WARNING ("Disabling
# terminals plugin", because the server runs without terminals).
BENIGN_CONSOLE = [(r'^blob:http://127\.0\.0\.1:\d+/[0-9a-f-]+ - Failed to load resource: net::ERR_FILE_NOT_FOUND$',
                   "ipywidgets' Image view revokes the object URL of the previous live frame when a newer frame arrives, so "
                   "a load of the old URL still in flight fails: the <img> itself, or this test's own fetch of it for the "
                   "SHA-256 below. The newer frame shows: check 4 asserts the live image changes, check 5 the summary image.")]

# One round trip: the state of every cell as the user sees it. A live panel is a widget VBox holding progress bars
# and an image (with an HTML table); any other <img> in a cell's output area (e.g. a rendered PNG) is a summary plot.
CELLS_JS = r"""
const full = arguments[0];  // false while the cells run: skip what costs layout work (text, images, overflow)
const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
return cells.map((cell, i) => {
  const res = {i, code: cell.classList.contains('jp-CodeCell'),
               prompt: (cell.querySelector('.jp-InputPrompt') || {textContent: ''}).textContent.trim(),
               src: [...cell.querySelectorAll('.jp-InputArea-editor .cm-line')].map(l => l.textContent).join('\n')};
  const out = cell.querySelector('.jp-OutputArea');
  if (!out) return res;
  const BAR = '.widget-hprogress, .widget-vprogress';
  const panels = [...out.querySelectorAll('.widget-vbox')].filter(b => b.querySelector(BAR) && b.querySelector('img.widget-image'));
  const live = new Set(panels.flatMap(p => [...p.querySelectorAll('img.widget-image')]));
  res.bars = [...out.querySelectorAll(BAR)].map(b => {
    const bar = b.querySelector('.progress-bar'), row = b.closest('.widget-hbox') || b;
    return {name: (b.querySelector('.widget-label') || {textContent: ''}).textContent.trim(),
            width: bar ? bar.style.width : null, row: row.innerText.replace(/\s+/g, ' ').trim(), cls: bar ? bar.className : ''};
  });
  const tables = [...out.querySelectorAll('.widget-html table')];
  res.tables = tables.map(t => [...t.querySelectorAll('td')].map(td => td.innerText.trim()));
  res.table_html = tables.map(t => t.outerHTML.slice(0, 1500));
  res.live = [...live].map(im => ({src: im.src, shown: getComputedStyle(im).display !== 'none', w: im.naturalWidth, h: im.naturalHeight}));
  if (!full) return res;
  res.images = [...out.querySelectorAll('img')].filter(im => !live.has(im)).map(im => ({
    src: im.src.slice(0, 40), ok: im.complete && im.naturalWidth > 0, w: im.naturalWidth, h: im.naturalHeight,
    parent: (im.parentElement || {className: ''}).className}));
  res.text = out.innerText;
  res.overflow = [out, ...out.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0
      && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).map(e => {
    const kids = [...e.children].sort((a, b) => b.scrollWidth - a.scrollWidth);
    return {el: e.tagName + '.' + [...e.classList].join('.'), scroll_w: e.scrollWidth, client_w: e.clientWidth,
            widest_child: kids.length ? kids[0].tagName + '.' + [...kids[0].classList].join('.') + ' ' + kids[0].scrollWidth + 'px' : ''};
  });
  res.stderr = [...out.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')].map(o => o.innerText.slice(-3000));
  return res;
});
"""

# SHA-256 and pixel size of the image behind an <img> src (the live panel's image is a blob: URL, replaced at each
# redraw): 'hex WxH'.
DIGEST_JS = r"""
const [src, done] = arguments;
fetch(src).then(r => r.blob()).then(async blob => {
  const h = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  const bmp = await createImageBitmap(blob);
  done([...new Uint8Array(h)].map(x => x.toString(16).padStart(2, '0')).join('') + ' ' + bmp.width + 'x' + bmp.height);
}).catch(e => done('unreadable: ' + e));
"""

# Every summary plot (an <img> in a cell's output area outside a live panel), as the browser decoded it: the cell, its
# natural size, the SHA-256 of its bytes and the fraction of its pixels that differ from its top-left pixel (the
# background) by more than 32 in some channel, i.e. how much of it is drawn on.
SUMMARY_IMAGES_JS = r"""
const done = arguments[arguments.length - 1];
const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
const jobs = [];
cells.forEach((cell, i) => {
  const out = cell.querySelector('.jp-OutputArea');
  if (!out) return;
  const live = new Set([...out.querySelectorAll('.widget-vbox img.widget-image')]);
  [...out.querySelectorAll('img')].filter(im => !live.has(im)).forEach(im => jobs.push((async () => {
    const res = {i, w: im.naturalWidth, h: im.naturalHeight, ok: im.complete && im.naturalWidth > 0};
    try {
      const blob = await (await fetch(im.src)).blob();
      const h = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
      res.sha = [...new Uint8Array(h)].map(x => x.toString(16).padStart(2, '0')).join('');
      const bmp = await createImageBitmap(blob);
      const cv = new OffscreenCanvas(bmp.width, bmp.height), ctx = cv.getContext('2d');
      ctx.drawImage(bmp, 0, 0);
      const px = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
      let ink = 0;
      for (let k = 0; k < px.length; k += 4)
        if (Math.abs(px[k] - px[0]) > 32 || Math.abs(px[k + 1] - px[1]) > 32 || Math.abs(px[k + 2] - px[2]) > 32) ink++;
      res.ink = ink/(px.length/4);
    } catch (e) { res.error = String(e); }
    return res;
  })()));
});
Promise.all(jobs).then(done);
"""

# JupyterLab (4.6) sometimes asks which kernel to use although the session exists: when its kernel list has not loaded
# yet as the page looks for the notebook's session (seen on a busy machine). A user picks the running kernel; so does
# this, and the run notes it.
KERNEL_DIALOG_JS = r"""
const id = arguments[0];
const d = [...document.querySelectorAll('.jp-Dialog')].find(d => /Select Kernel/.test(d.innerText));
if (!d) return null;
const sel = d.querySelector('select'), ok = d.querySelector('.jp-Dialog-button.jp-mod-accept');
const opt = sel && [...sel.options].find(o => o.value.includes(id));
if (!opt || !ok) return 'unanswerable: ' + d.innerText;
sel.value = opt.value;
sel.dispatchEvent(new Event('change', {bubbles: true}));
ok.click();
return 'answered: ' + opt.text;
"""

def _readme_block() -> str:
    blocks = re.findall(r'```python\n(.*?)```', README.read_text(), flags=re.S)
    assert len(blocks) == 1, 'expected exactly one Python block (the quick start) in README.md'
    return blocks[0]

def _code_cells(nb_path: Path) -> list:
    return [''.join(c['source']) for c in json.loads(nb_path.read_text())['cells'] if c['cell_type'] == 'code']

def test_notebook_matches_readme():
    "The notebook's first three code cells are the README quick start (compared as code: comments and spacing aside)."
    quick_start = '\n'.join(_code_cells(NOTEBOOK)[:3])
    assert ast.dump(ast.parse(quick_start)) == ast.dump(ast.parse(_readme_block())), (
        'tests/browser/quick_start.ipynb: its first three code cells no longer match the README quick start; '
        'copy the README block into them (split after the train_models line)')
    assert CELLS['train'] in _code_cells(NOTEBOOK)[1], 'the second code cell must be the train_models line alone'

# --- driving the page ---
def _wait(cond, timeout: float, what: str, poll: float = 0.25):
    "Poll `cond` until it returns something truthy; TimeoutError naming `what` after `timeout` seconds."
    deadline = time.monotonic() + timeout
    while True:
        res = cond()
        if res: return res
        if time.monotonic() > deadline: raise TimeoutError(f'timed out after {timeout} s waiting for {what}')
        time.sleep(poll)

def _cells(driver, full: bool = True) -> list: return driver.execute_script(CELLS_JS, full)

def _kernel_status(driver) -> str:
    return driver.execute_script(
        "const e = document.querySelector('.jp-Notebook-ExecutionIndicator'); return e ? e.dataset.status : '';") or ''

def _cell(cells: list, marker: str) -> dict:
    "The code cell whose source contains `marker`."
    hits = [c for c in cells if c['code'] and marker in c['src']]
    assert len(hits) == 1, f'expected one code cell containing {marker!r}, got {len(hits)}'
    return hits[0]

def _dialogs(driver) -> list: return driver.execute_script("return [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText)")

def _answer_kernel_dialog(driver, run: 'Run') -> None:
    "Answer JupyterLab's Select Kernel dialog, if it shows, with the session's kernel; note it."
    answer = driver.execute_script(KERNEL_DIALOG_JS, run.kernel_id)
    if answer: run.notes.append(f'JupyterLab asked for a kernel although the session existed; {answer}')

def _run_all_cells(driver, run: 'Run') -> None:
    "Run > Run All Cells, through the menu as a user would."
    from selenium.common.exceptions import ElementClickInterceptedException
    from selenium.webdriver.common.by import By
    menu = [m for m in driver.find_elements(By.CSS_SELECTOR, '.lm-MenuBar-item') if m.text.strip() == 'Run']
    assert menu, 'JupyterLab menu bar has no Run menu'
    try: menu[0].click()
    except ElementClickInterceptedException:  # a dialog came up late: answer it if it is the kernel one, else fail
        _answer_kernel_dialog(driver, run)
        _wait(lambda: not _dialogs(driver), 5, f'the dialog to close: {_dialogs(driver)}')
        menu[0].click()
    item = _wait(lambda: [i for i in driver.find_elements(By.CSS_SELECTOR, '.lm-Menu-item')
                          if i.text.split('\n')[0].strip() == 'Run All Cells'], 10, 'the Run All Cells menu item')
    item[0].click()

def _screenshot(driver, cell: dict, path: Path) -> Path:
    "Scroll `cell` to the top of the notebook panel and save a screenshot."
    from selenium.webdriver.common.by import By
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});",
                          driver.find_elements(By.CSS_SELECTOR, '.jp-Notebook .jp-Cell')[cell['i']])
    time.sleep(0.3)
    driver.save_screenshot(str(path))
    return path

class Run:
    """What one Run All Cells of `nb` (a copy in the server's root) showed: final cell states, live-image samples of the
    cells `live` names (key -> first statement), console, screenshots (`shots`: name -> marker of the cell to show), timings."""
    def __init__(self, nb: Path, live: dict, art: Path, shots: dict):
        self.nb, self.live, self.art, self.shot_cells = nb, live, art, shots
        self.art.mkdir(parents=True, exist_ok=True)
        self.cells, self.console, self.shots, self.times, self.notes, self.summary_images = [], [], {}, {}, [], []
        self.digests = {k: [] for k in live}  # (src, sha256) of each new live-panel image seen
        self.mismatches, self.kernels, self.kernel_id, self.dialogs = set(), [], None, []
        self.kernel_cpu = None  # CPU seconds the notebook's kernel used, start-up included

    def sample(self, driver, cells: list) -> None:
        "Record each live panel's new images and bar/table disagreements; take the during-training screenshot once."
        for key, marker in self.live.items():
            hits = [c for c in cells if c['code'] and marker in c['src']]
            for im in (hits[0].get('live', []) if hits else []):
                seen = self.digests[key]
                if im['shown'] and im['src'] and (not seen or seen[-1][0] != im['src']):
                    seen.append((im['src'], driver.execute_async_script(DIGEST_JS, im['src'])))
            if hits: self.mismatches.update(_bar_table_mismatch(hits[0]))
        trn = _cell(cells, self.live['train'])
        if 'during' not in self.shots and len(self.digests['train']) >= 2 and trn['prompt'] == '[*]:':
            self.shots['during'] = _screenshot(driver, trn, self.art/'during_training.png')

    def save(self, driver) -> None:
        (self.art/'page.html').write_text(driver.page_source)
        (self.art/'cells.json').write_text(json.dumps(self.cells, indent=1))
        (self.art/'console.json').write_text(json.dumps(self.console, indent=1))
        (self.art/'summary_images.json').write_text(json.dumps(self.summary_images, indent=1))

def _fresh_tab(driver) -> None:
    "Open a new tab and close the others (closing a tab skips the 'leave site?' prompt of a notebook with new outputs)."
    if driver.current_url in ('about:blank', 'data:,'): return
    old = driver.window_handles
    driver.switch_to.new_window('tab')
    new = driver.current_window_handle
    for handle in old:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(new)

def _drive(lab: 'Lab', run: Run) -> None:
    """Open the notebook in a fresh tab, Run All Cells, sample the page until the kernel is idle with no cell queued,
    take screenshots; always shut the notebook's kernel down."""
    driver, base, token, name = lab.driver, lab.base, lab.token, run.nb.name
    _fresh_tab(driver)
    try: _drive_open(driver, base, token, name, run)
    finally:
        if run.kernel_id: run.kernel_cpu = kernel_cpu_seconds(run.kernel_id)
        stop_sessions(base, token)

def _drive_open(driver, base: str, token: str, name: str, run: Run) -> None:
    run.kernel_id = start_session(base, token, name)
    # A workspace of its own: the page restores no other notebook (a restored one would start a kernel of its own).
    driver.get(f'{base}/lab/workspaces/{run.nb.stem}/tree/{name}?token={token}')
    n_cells = len(json.loads(run.nb.read_text())['cells'])

    def opened():
        _answer_kernel_dialog(driver, run)
        return len(_cells(driver)) == n_cells and _kernel_status(driver) == 'idle' and not _dialogs(driver)
    _wait(opened, PAGE_TIMEOUT, f'the notebook ({n_cells} cells) and an idle kernel, with no dialog')
    time.sleep(1.)  # the kernel dialog, when it comes, comes just after the kernel shows idle
    _answer_kernel_dialog(driver, run)
    dialogs = _dialogs(driver)
    assert not dialogs, f'JupyterLab shows a dialog before Run All Cells: {dialogs}'
    run.times['open'] = time.monotonic()
    started = lambda: any(c['code'] and c['prompt'] not in ('', '[ ]:') for c in _cells(driver, full=False))
    for attempt in range(3):  # a click while JupyterLab still settles can be lost; nothing is queued then, so retry
        _run_all_cells(driver, run)
        try:
            _wait(started, 8, 'Run All Cells to queue the cells')
            break
        except TimeoutError:
            if attempt == 2: raise

    def finished():
        cells = _cells(driver, full=False)
        run.sample(driver, cells)
        run.console.extend(driver.get_log('browser'))
        busy = _kernel_status(driver) != 'idle' or any('*' in c['prompt'] for c in cells if c['code'])
        return None if busy else cells
    try: _wait(finished, RUN_TIMEOUT, 'Run All Cells to finish', poll=0.5)
    finally:
        run.times['run'] = time.monotonic()
        time.sleep(1.)  # let the last widget messages and images render
        run.cells = _cells(driver)
        run.console.extend(driver.get_log('browser'))
        run.kernels = [(s['kernel']['name'], s['kernel']['id']) for s in api(base, token, '/api/sessions')]
        run.dialogs = _dialogs(driver)
        run.summary_images = driver.execute_async_script(SUMMARY_IMAGES_JS)
        for shot, marker in run.shot_cells.items():
            with contextlib.suppress(AssertionError):
                run.shots[shot] = _screenshot(driver, _cell(run.cells, marker), run.art/f'{shot}.png')
        run.save(driver)

# --- reading what the page showed ---
def _distinct(samples: list) -> set:
    "Distinct image digests among (src, 'digest WxH') samples; images that could not be read are left out."
    return {d.split()[0] for _, d in samples if not d.startswith('unreadable')}

def _bar_table_mismatch(cell: dict) -> list:
    "Names whose bar label (e.g. '1/3') and live-table value (e.g. '2/3') differ at this instant."
    labels = {b['name']: re.search(r'\d+/\d+', b['row']) for b in cell.get('bars', [])}
    out = []
    for table in cell.get('tables', []):
        for td in table:
            name, _, val = td.partition('\n')
            lbl = labels.get(name.strip())
            if lbl and re.fullmatch(r'\d+/\d+', val.strip()) and lbl.group(0) != val.strip():
                out.append(f'{name.strip()}: bar {lbl.group(0)}, table {val.strip()}')
    return out

def _problems(run: Run) -> list:
    "Everything the page shows that a user should not see, one line each with the DOM evidence."
    code, probs = [c for c in run.cells if c['code']], []
    if run.kernels != [(KERNEL_NAME, run.kernel_id)]:
        probs.append(f'expected the one session started on kernel {KERNEL_NAME!r} ({run.kernel_id}), got {run.kernels}')
    for d in run.dialogs: probs.append(f'JupyterLab shows a dialog: {d[:500]!r}')
    # 1. Every cell ran, once and in order, without a traceback (an assert that fails raises one and stops Run All).
    for c in code:
        for err in c.get('stderr', []):
            if 'Traceback' in err or re.search(r'^\w+(Error|Exception)\b', err, re.M): probs.append(f"cell {c['i']} raised:\n{err[-1500:]}")
    not_run = [(c['i'], c['prompt']) for c in code if not re.fullmatch(r'\[\d+\]:', c['prompt'])]
    if not_run: probs.append(f'{len(not_run)} of {len(code)} code cells did not run (cell, prompt): {not_run}')
    counts = [c['prompt'] for c in code]
    if not probs and counts != [f'[{n}]:' for n in range(1, len(code) + 1)]:
        probs.append(f'the code cells did not run once each in order: prompts {counts}')
    if probs: return probs  # a cell that raised stops Run All; what follows would only repeat it
    # 2. Every progress bar reached its end: its width is 100 (value - min)/(max - min) %, and a 'done/total' label
    #    beside it (lumin's panels, tqdm's bars) reads total/total.
    for c in code:
        for b in c.get('bars', []):
            frac = re.search(r'\b(\d+)/(\d+)\b', b['row'])
            if b['width'] != '100%' or (frac and frac.group(1) != frac.group(2)):
                probs.append(f"cell {c['i']}: progress bar not at its end: {b}")
    # 3. No live-table cell shows None.
    for c in code:
        for tds, html in zip(c.get('tables', []), c.get('table_html', [])):
            bad = [t.replace('\n', ' ') for t in tds if re.search(r'\bNone\b', t)]
            if bad: probs.append(f"cell {c['i']}: live table has {len(bad)} of {len(tds)} cells None ({bad}); HTML: {html[:700]}")
    # 4. The live plots changed while running: distinct image bytes, not only new blob URLs.
    for key, seen in run.digests.items():
        if len(_distinct(seen)) < 2:
            probs.append(f'{key}: the live plot did not change during the run ({len(seen)} images seen, {len(_distinct(seen))} distinct)')
    # 5. Each summary plot is an image in its cell's output area; no figure anywhere is shown as its text repr.
    for key, marker in run.live.items():
        c = _cell(run.cells, marker)
        if not any(i['ok'] for i in c.get('images', [])):
            probs.append(f"{key} (cell {c['i']}): no summary plot image in the output area; other images {c.get('images')}; "
                         f"output text ends {c.get('text', '')[-300:]!r}")
    for c in code:
        for m in re.finditer(r'<Figure size[^>]*>', c.get('text', '')): probs.append(f"cell {c['i']}: a figure shown as text: {m.group(0)}")
    # 6. No console errors.
    for e in run.console:
        if e.get('level') == 'SEVERE' and not any(re.search(rx, e['message']) for rx, _ in BENIGN_CONSOLE):
            probs.append(f"browser console error: {e['message'][:500]}")
    return probs

def _plot_problems(run: Run) -> list:
    """The tutorial's plots as the page shows them: every cell that draws shows an image, every image is decoded, large
    and drawn on, and no two images are the same (a plot shown twice, or an old figure shown again, would be)."""
    probs, by_cell = [], {}
    for im in run.summary_images: by_cell.setdefault(im['i'], []).append(im)
    drawing = [c for c in run.cells if c['code'] and PLOT_CALL.search(c['src'])]
    if not drawing: probs.append(f'{run.nb.name}: no cell calls a plotting function ({PLOT_CALL.pattern})')
    for c in drawing:
        if not by_cell.get(c['i']):
            probs.append(f"cell {c['i']} draws ({PLOT_CALL.search(c['src']).group(1)}) but shows no image; output text ends "
                         f"{c.get('text', '')[-300:]!r}")
    for im in run.summary_images:
        if 'error' in im or not im['ok']: probs.append(f"cell {im['i']}: an image the browser cannot decode: {im}")
        elif im['w'] < MIN_PLOT_SIZE[0] or im['h'] < MIN_PLOT_SIZE[1] or im['ink'] < MIN_INK:
            probs.append(f"cell {im['i']}: image {im['w']}x{im['h']} with {100*im['ink']:.2f} % of its pixels drawn on; "
                         f"expected at least {MIN_PLOT_SIZE[0]}x{MIN_PLOT_SIZE[1]} and {100*MIN_INK:g} %")
    shas = [im.get('sha') for im in run.summary_images if im.get('sha')]
    for sha in sorted({s for s in shas if shas.count(s) > 1}):
        cells = [im['i'] for im in run.summary_images if im.get('sha') == sha]
        srcs = [next(c['src'] for c in run.cells if c['i'] == i) for i in cells]
        if len(srcs) == 2 and any(a in srcs[0] and b in srcs[1] for a, b in SAME_IMAGE_OK):
            run.notes.append(f'cells {cells} show the same image (allowed by SAME_IMAGE_OK: {srcs[1].strip()!r} redraws it)')
        else: probs.append(f'the same image is shown in cells {cells}')
    return probs

def _number_problems(run: Run) -> list:
    "The numbers the tutorial prints, read from the page, within the bounds its prose promises."
    text, probs = '\n'.join(c.get('text', '') for c in run.cells if c['code']), []
    for label, rx, lo, hi in TUTORIAL_NUMBERS:
        found = re.findall(rx, text)
        if len(found) != 1: probs.append(f'{label}: expected the page to show it once ({rx!r}), found {found}'); continue
        if not lo <= float(found[0]) <= hi: probs.append(f'{label}: the page shows {found[0]}, outside [{lo:g}, {hi:g}]')
    return probs

def _report(run: Run, t_start: float, t_end: float, setup: float = 0.) -> None:
    "Print timings, artefact paths and what was seen (shown with `pytest -s`, and with the failure otherwise)."
    print(f"\nbrowser test of {run.nb.name}: " + (f'server and browser start {setup:.1f} s, ' if setup else '')
          + f"open {run.times['open'] - t_start:.1f} s, Run All Cells {run.times['run'] - run.times['open']:.1f} s, "
          f"total {t_end - t_start + setup:.1f} s; the kernel used "
          + ('?' if run.kernel_cpu is None else f'{run.kernel_cpu:.1f}') + ' s of CPU')
    for name, path in run.shots.items(): print(f'screenshot {name}: {path}')
    print(f"page HTML, cell states, console: {run.art/'page.html'}, {run.art/'cells.json'}, {run.art/'console.json'}")
    for key, seen in run.digests.items():
        n_bad = sum(d.startswith('unreadable') for _, d in seen)
        sizes = sorted({d.split()[1] for _, d in seen if not d.startswith('unreadable')})
        print(f'{key}: {len(seen)} live images seen, {len(_distinct(seen))} distinct' + (f', {n_bad} unreadable' if n_bad else '')
              + f'; pixel sizes {sizes}' + ('' if len(sizes) < 2 else ' (note: the live plot changes size between redraws)'))
    levels = {}
    for e in run.console: levels[e.get('level')] = levels.get(e.get('level'), 0) + 1
    print(f'browser console: {levels or "empty"}; kernels: {run.kernels}')
    for c in run.cells:
        if c['code']: print(f"cell {c['i']} {c['prompt']} bars {[b['row'] for b in c.get('bars', [])]} "
                            f"summary images {[(i['w'], i['h']) for i in c.get('images', []) if i['ok']]}")
    if run.summary_images:
        print('summary images (cell, size, % drawn on, sha256): ' + ', '.join(
            f"{im['i']} {im['w']}x{im['h']} {100*im.get('ink', 0):.0f}% {im.get('sha', '?')[:8]}" for im in run.summary_images))
    for m in sorted(run.mismatches): print(f'note: during training a bar and the table disagreed: {m}')
    for n in run.notes: print(f'note: {n}')
    for c in run.cells:
        for o in c.get('overflow', []): print(f"note: cell {c['i']} output scrolls sideways: {o}")
        for err in c.get('stderr', []): print(f"note: cell {c['i']} writes to stderr: {err[-300:]!r}")

def _artefacts() -> Path:
    path = os.environ.get('LUMIN_BROWSER_ARTEFACTS')
    if not path: return Path(tempfile.mkdtemp(prefix='lumin-browser-'))
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)

def tutorial_size(nb: Path) -> int:
    "The events `tests/test_tutorials.py` runs `nb` with (its CI_SIZES entry, else CI_SIZE), read from its source."
    consts = {}
    for node in ast.parse(TEST_TUTORIALS.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and getattr(node.targets[0], 'id', None) in ('CI_SIZE', 'CI_SIZES'):
            consts[node.targets[0].id] = ast.literal_eval(node.value)
    assert set(consts) == {'CI_SIZE', 'CI_SIZES'}, f'{TEST_TUTORIALS} no longer sets CI_SIZE and CI_SIZES as literals'
    return int(consts['CI_SIZES'].get(nb.stem, consts['CI_SIZE']))

@contextlib.contextmanager
def _watchdog(secs: int, what: str):
    "SIGALRM raises TimeoutError in the test if `what` still runs after `secs` seconds."
    def _abort(signum, frame): raise TimeoutError(f'{what} still running after {secs} s: aborted')
    old = signal.signal(signal.SIGALRM, _abort)
    signal.alarm(secs)
    try: yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)

class Lab:
    "The JupyterLab server and the browser the notebooks of this module share."
    def __init__(self, base: str, token: str, driver, root: Path, art: Path, setup: float):
        self.base, self.token, self.driver, self.root, self.art, self._setup = base, token, driver, root, art, setup

    def setup_time(self) -> float:
        "Seconds it took to start server and browser, charged once, to the first test that asks."
        setup, self._setup = self._setup, 0.
        return setup

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "One JupyterLab server (kernels get the tutorial's CI size) and one headless Chromium for both notebooks; always stopped."
    why = missing_requirements()
    if why is not None:
        if os.environ.get('LUMIN_BROWSER_STRICT') == '1': pytest.fail(f'browser test cannot run (LUMIN_BROWSER_STRICT=1): {why}')
        pytest.skip(f'browser test: {why}')
    t_start = time.monotonic()
    scratch = tmp_path_factory.mktemp('lab')
    root = scratch/'work'
    root.mkdir()
    shutil.copy(NOTEBOOK, root/NOTEBOOK.name)
    nb = json.loads(TUTORIAL.read_text())  # the tutorial, asking for the test's kernel (a user picks the venv's kernel)
    nb['metadata']['kernelspec'] = json.loads(NOTEBOOK.read_text())['metadata']['kernelspec']
    (root/TUTORIAL.name).write_text(json.dumps(nb, indent=1))
    env = {'LUMIN_TUTORIAL_SIZE': tutorial_size(TUTORIAL)}
    with contextlib.ExitStack() as stack:
        with _watchdog(WATCHDOG, 'starting JupyterLab and Chromium'):
            base, token = stack.enter_context(lab_server(root, scratch, env=env))
            driver = stack.enter_context(chromium(scratch))
        yield Lab(base, token, driver, root, _artefacts(), time.monotonic() - t_start)

def _run_notebook(lab: Lab, name: str, live: dict, shots: dict) -> tuple:
    "Drive notebook `name` of the server's root through Run All Cells; return (Run, seconds including any start-up charged)."
    run = Run(lab.root/name, live, lab.art/Path(name).stem, shots)
    t_start = time.monotonic()
    with _watchdog(WATCHDOG, f'the browser test of {name}'):
        try: _drive(lab, run)
        except Exception:  # keep the evidence: what the page showed when driving it failed
            lab.driver.save_screenshot(str(run.art/'failure.png'))
            (run.art/'failure.html').write_text(lab.driver.page_source)
            print(f"\nbrowser test of {name} failed while driving the page after {time.monotonic() - t_start:.0f} s (its kernel "
                  f"used {run.kernel_cpu} s of CPU); see {run.art/'failure.png'} and {run.art/'failure.html'}")
            raise
    t_end, setup = time.monotonic(), lab.setup_time()
    _report(run, t_start, t_end, setup)
    return run, t_end - t_start + setup

def test_notebook_in_jupyterlab(lab):
    "Run All Cells on the quick-start notebook in JupyterLab + headless Chromium and check what the page shows."
    run, secs = _run_notebook(lab, NOTEBOOK.name, CELLS, {'after_training': CELLS['train'], 'after_lr_finders': CELLS['lr_find']})
    probs = _problems(run)
    assert not probs, f'{len(probs)} problem(s) seen in the browser:\n- ' + '\n- '.join(probs)
    assert secs < TOTAL_LIMIT, f'browser test took {secs:.0f} s; keep it under {TOTAL_LIMIT:.0f} s'

def test_tutorial_in_jupyterlab(lab):
    """Run All Cells on the binary-classification tutorial at its test size: every cell runs without an error (so every
    assert of its prose holds), its live panels update, each plot shows as a distinct, drawn-on image of full size, and
    the numbers it prints are those its prose promises."""
    run, secs = _run_notebook(lab, TUTORIAL.name, TUTORIAL_CELLS, {'after_training': TUTORIAL_CELLS['train'], 'roc': 'roc = plot_roc('})
    probs = _problems(run)
    if not any(re.search(r'did not run|raised', p) for p in probs):  # a cell that failed leaves no plots to check
        n_notes = len(run.notes)
        probs += _plot_problems(run) + _number_problems(run)
        for n in run.notes[n_notes:]: print(f'note: {n}')
    assert not probs, f'{len(probs)} problem(s) seen in the browser:\n- ' + '\n- '.join(probs)
    assert secs < TOTAL_LIMIT, f'browser test took {secs:.0f} s; keep it under {TOTAL_LIMIT:.0f} s'
