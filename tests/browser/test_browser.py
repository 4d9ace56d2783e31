"""The notebook experience in a real browser: the README quick start and both LR finders, run with JupyterLab's
*Run All Cells* in headless Chromium, checked from the page's DOM.

Run with `make test-browser`, `pytest -s tests/browser` or `LUMIN_BROWSER=1 pytest tests` (a plain `pytest tests`
leaves this folder out: see conftest.py). Without chromium, chromedriver, selenium or jupyterlab the browser test is
skipped with the reason, unless LUMIN_BROWSER_STRICT=1 (CI) makes that a failure. Screenshots, the page's HTML, the
cells' states and the browser console go to `$LUMIN_BROWSER_ARTEFACTS` (default: a new `/tmp/lumin-browser-*`
folder); their paths are printed. The whole test must take under two minutes (LUMIN_BROWSER_TIME_LIMIT=seconds
changes that on a machine busy with other jobs)."""
from __future__ import annotations
import ast, json, os, re, shutil, signal, tempfile, time
from pathlib import Path

import pytest

from browser_lab import KERNEL_NAME, api, chromium, lab_server, missing_requirements, start_session

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE/'quick_start.ipynb'
README = HERE.parents[1]/'README.md'
PAGE_TIMEOUT = 30.  # seconds for JupyterLab to open the notebook and show its kernel idle (5-10 s here)
# Run All Cells takes 10-20 s on an idle 2-core machine, 50-150 s while other heavy jobs share it. The test must stay
# under TOTAL_LIMIT (LUMIN_BROWSER_TIME_LIMIT raises it on a loaded machine); RUN_TIMEOUT stops waiting a little later
# so that a slow run still reports what the page showed.
TOTAL_LIMIT = float(os.environ.get('LUMIN_BROWSER_TIME_LIMIT', 120))
RUN_TIMEOUT = TOTAL_LIMIT + 30.
WATCHDOG = int(TOTAL_LIMIT) + 120  # SIGALRM aborts the test; the context managers still stop server and browser
# The code cells to check, found by their first statement (unique in the notebook).
CELLS = {'train': 'results, histories, _ = train_models(', 'lr_find': 'lr_finders = lr_find(',
         'fold_lr_find': 'fold_finders = fold_lr_find('}
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

def _cell(cells: list, key: str) -> dict:
    "The code cell `CELLS[key]` names."
    hits = [c for c in cells if c['code'] and CELLS[key] in c['src']]
    assert len(hits) == 1, f'expected one code cell containing {CELLS[key]!r}, got {len(hits)}'
    return hits[0]

def _run_all_cells(driver) -> None:
    "Run > Run All Cells, through the menu as a user would."
    from selenium.webdriver.common.by import By
    menu = [m for m in driver.find_elements(By.CSS_SELECTOR, '.lm-MenuBar-item') if m.text.strip() == 'Run']
    assert menu, 'JupyterLab menu bar has no Run menu'
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
    "What one Run All Cells showed: final cell states, live-image samples, console, screenshots, timings."
    def __init__(self, art: Path):
        self.art, self.cells, self.console, self.shots, self.times = art, [], [], {}, {}
        self.digests = {k: [] for k in CELLS}  # (src, sha256) of each new live-panel image seen
        self.mismatches, self.kernels, self.kernel_id, self.dialogs = set(), [], None, []

    def sample(self, driver, cells: list) -> None:
        "Record each live panel's new images and bar/table disagreements; take the during-training screenshot once."
        for key in CELLS:
            hits = [c for c in cells if c['code'] and CELLS[key] in c['src']]
            for im in (hits[0].get('live', []) if hits else []):
                seen = self.digests[key]
                if im['shown'] and im['src'] and (not seen or seen[-1][0] != im['src']):
                    seen.append((im['src'], driver.execute_async_script(DIGEST_JS, im['src'])))
        trn = _cell(cells, 'train')
        self.mismatches.update(_bar_table_mismatch(trn))
        if 'during' not in self.shots and len(self.digests['train']) >= 2 and trn['prompt'] == '[*]:':
            self.shots['during'] = _screenshot(driver, trn, self.art/'during_training.png')

    def save(self, driver) -> None:
        (self.art/'page.html').write_text(driver.page_source)
        (self.art/'cells.json').write_text(json.dumps(self.cells, indent=1))
        (self.art/'console.json').write_text(json.dumps(self.console, indent=1))

def _drive(driver, base: str, token: str, run: Run) -> None:
    "Open the notebook, Run All Cells, sample the page until the kernel is idle with no cell queued, take screenshots."
    run.kernel_id = start_session(base, token, NOTEBOOK.name)
    driver.get(f'{base}/lab/tree/{NOTEBOOK.name}?token={token}')
    n_cells = len(json.loads(NOTEBOOK.read_text())['cells'])
    _wait(lambda: len(_cells(driver)) == n_cells and _kernel_status(driver) == 'idle', PAGE_TIMEOUT,
          f'the notebook ({n_cells} cells) and an idle kernel')
    dialogs = driver.execute_script("return [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText)")
    assert not dialogs, f'JupyterLab shows a dialog before Run All Cells: {dialogs}'
    run.times['open'] = time.monotonic()
    started = lambda: any(c['code'] and c['prompt'] not in ('', '[ ]:') for c in _cells(driver, full=False))
    for attempt in range(3):  # a click while JupyterLab still settles can be lost; nothing is queued then, so retry
        _run_all_cells(driver)
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
        run.dialogs = driver.execute_script("return [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText)")
        run.shots['after'] = _screenshot(driver, _cell(run.cells, 'train'), run.art/'after_training.png')
        run.shots['after_lr'] = _screenshot(driver, _cell(run.cells, 'lr_find'), run.art/'after_lr_finders.png')
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
    # 1. Every cell ran, without a traceback.
    for c in code:
        if not re.fullmatch(r'\[\d+\]:', c['prompt']): probs.append(f"cell {c['i']} did not run (prompt {c['prompt']!r})")
        for err in c.get('stderr', []):
            if 'Traceback' in err or re.search(r'^\w+(Error|Exception)\b', err, re.M): probs.append(f"cell {c['i']} raised:\n{err[-1500:]}")
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
    for key in CELLS:
        c = _cell(run.cells, key)
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

def _report(run: Run, t_start: float, t_end: float) -> None:
    "Print timings, artefact paths and what was seen (shown with `pytest -s`, and with the failure otherwise)."
    print(f"\nbrowser test: open {run.times['open'] - t_start:.1f} s, Run All Cells {run.times['run'] - run.times['open']:.1f} s, "
          f"total {t_end - t_start:.1f} s")
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
    for m in sorted(run.mismatches): print(f'note: during training a bar and the table disagreed: {m}')
    for c in run.cells:
        for o in c.get('overflow', []): print(f"note: cell {c['i']} output scrolls sideways: {o}")

def _artefacts() -> Path:
    path = os.environ.get('LUMIN_BROWSER_ARTEFACTS')
    if not path: return Path(tempfile.mkdtemp(prefix='lumin-browser-'))
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)

def test_notebook_in_jupyterlab(tmp_path):
    "Run All Cells on the quick-start notebook in JupyterLab + headless Chromium and check what the page shows."
    why = missing_requirements()
    if why is not None:
        if os.environ.get('LUMIN_BROWSER_STRICT') == '1': pytest.fail(f'browser test cannot run (LUMIN_BROWSER_STRICT=1): {why}')
        pytest.skip(f'browser test: {why}')
    t_start = time.monotonic()
    root = tmp_path/'work'
    root.mkdir()
    shutil.copy(NOTEBOOK, root/NOTEBOOK.name)
    run = Run(_artefacts())

    def _abort(signum, frame): raise TimeoutError(f'browser test still running after {WATCHDOG} s: aborted')
    old = signal.signal(signal.SIGALRM, _abort)
    signal.alarm(WATCHDOG)
    try:
        with lab_server(root, tmp_path) as (base, token), chromium(tmp_path) as driver:
            try: _drive(driver, base, token, run)
            except Exception:  # keep the evidence: what the page showed when driving it failed
                driver.save_screenshot(str(run.art/'failure.png'))
                (run.art/'failure.html').write_text(driver.page_source)
                print(f"\nbrowser test failed while driving the page; see {run.art/'failure.png'} and {run.art/'failure.html'}")
                raise
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    t_end = time.monotonic()
    _report(run, t_start, t_end)
    probs = _problems(run)
    assert not probs, f'{len(probs)} problem(s) seen in the browser:\n- ' + '\n- '.join(probs)
    assert t_end - t_start < TOTAL_LIMIT, f'browser test took {t_end - t_start:.0f} s; keep it under {TOTAL_LIMIT:.0f} s'
