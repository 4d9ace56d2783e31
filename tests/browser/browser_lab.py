"""Helpers for the real-browser test: a throw-away JupyterLab server and a headless Chromium driven by chromedriver.

Everything JupyterLab, Jupyter and IPython write (settings, workspaces, runtime files, the kernelspec) goes into one
scratch folder, so nothing in the user's home is read or changed. The server listens on 127.0.0.1 only, behind a token."""
from __future__ import annotations
import contextlib, json, os, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
from typing import Iterator, Optional, Tuple

CHROMIUM = os.environ.get('LUMIN_CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('LUMIN_CHROMEDRIVER', '/usr/bin/chromedriver')
KERNEL_NAME = 'lumin-venv'  # the name quick_start.ipynb's metadata asks for

CHROMIUM_FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

# JupyterLab user settings: every cell stays in the DOM (no windowing), and nothing asks for the network.
LAB_SETTINGS = {
    '@jupyterlab/notebook-extension/tracker.jupyterlab-settings': {'windowingMode': 'none'},
    '@jupyterlab/apputils-extension/notification.jupyterlab-settings': {'fetchNews': 'false', 'checkForUpdates': False},
}

def missing_requirements() -> Optional[str]:
    "Why the browser test cannot run here, or None when chromium, chromedriver, selenium and jupyterlab are all present."
    for exe, pkg in ((CHROMIUM, 'chromium'), (CHROMEDRIVER, 'chromium-driver')):
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            return f'{exe} not found: install it with `apt-get install -y {pkg}`'
    for mod in ('selenium', 'jupyterlab', 'ipykernel'):
        try: __import__(mod)
        except ImportError: return f'python package {mod} not installed in {sys.prefix}: `pip install {mod}`'
    return None

def free_port() -> int:
    "A TCP port on 127.0.0.1 that nothing listens on right now."
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def jupyter_env(scratch: Path, extra: Optional[dict] = None) -> dict:
    """Environment for the server and its kernels: Jupyter, JupyterLab and IPython state in `scratch`, a kernelspec for
    this venv, and the variables in `extra` (kernels inherit the server's environment)."""
    dirs = {k: scratch/v for k, v in [('JUPYTER_CONFIG_DIR', 'config'), ('JUPYTER_DATA_DIR', 'data'),
                                       ('JUPYTER_RUNTIME_DIR', 'runtime'), ('IPYTHONDIR', 'ipython'),
                                       ('JUPYTERLAB_SETTINGS_DIR', 'lab-settings'),
                                       ('JUPYTERLAB_WORKSPACES_DIR', 'lab-workspaces')]}
    for d in dirs.values(): d.mkdir(parents=True, exist_ok=True)
    spec_dir = dirs['JUPYTER_DATA_DIR']/'kernels'/KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir/'kernel.json').write_text(json.dumps({
        'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        'display_name': 'lumin (.venv)', 'language': 'python'}, indent=1))
    for rel, content in LAB_SETTINGS.items():
        path = dirs['JUPYTERLAB_SETTINGS_DIR']/rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))
    env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, 'JUPYTER_PATH': str(dirs['JUPYTER_DATA_DIR']),
           'JUPYTER_PLATFORM_DIRS': '1', 'PYTHONUNBUFFERED': '1'}
    # A user's kernel has matplotlib's inline backend; the test suite's MPLBACKEND=Agg would hide exactly the
    # `<Figure size ...>` fault this test looks for.
    env.pop('MPLBACKEND', None)
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env

@contextlib.contextmanager
def lab_server(root: Path, scratch: Path, timeout: float = 60., env: Optional[dict] = None) -> Iterator[Tuple[str, str]]:
    "Run JupyterLab on `root` (its kernels get the variables in `env`); yield (base URL, token); always stop it and its kernels."
    port, token = free_port(), secrets.token_hex(16)
    log = open(scratch/'jupyterlab.log', 'w')
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}',
           '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}',
           '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
           '--ServerApp.shutdown_no_activity_timeout=600', '--ServerApp.allow_root=True',
           '--ServerApp.terminals_enabled=False', '--LabApp.extension_manager=readonly', '--MappingKernelManager.default_kernel_name=' + KERNEL_NAME]
    proc = subprocess.Popen(cmd, cwd=root, env=jupyter_env(scratch, env), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None: raise RuntimeError(f'JupyterLab exited with {proc.returncode}; see {log.name}')
            try:
                with urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2) as r:
                    if r.status == 200: break
            except OSError: pass
            if time.monotonic() > deadline: raise TimeoutError(f'JupyterLab did not answer within {timeout} s; see {log.name}')
            time.sleep(0.3)
        yield base, token
    finally:
        _stop(proc)
        _kill_leftover_kernels(scratch/'runtime')
        log.close()

def api(base: str, token: str, path: str, body: Optional[dict] = None, timeout: float = 10., method: Optional[str] = None):
    "Call the Jupyter server's REST API (GET, POST with a JSON body, or `method`); return the decoded JSON answer (None if empty)."
    req = urllib.request.Request(f'{base}{path}', method=method or ('GET' if body is None else 'POST'),
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={'Authorization': f'token {token}', 'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        data = r.read()
        return json.loads(data) if data else None

def start_session(base: str, token: str, nb_name: str) -> str:
    """Start the notebook's kernel session before the page opens it (the page then attaches to it); return the kernel id.
    A page that starts its own kernel while JupyterLab loads slowly can start two and drop one just as the cells run."""
    sess = api(base, token, '/api/sessions', {'path': nb_name, 'name': nb_name, 'type': 'notebook', 'kernel': {'name': KERNEL_NAME}})
    return sess['kernel']['id']

def stop_sessions(base: str, token: str) -> list:
    "Shut down every session and its kernel (so that the next notebook has the machine to itself); return their paths."
    sessions = api(base, token, '/api/sessions')
    for s in sessions: api(base, token, f"/api/sessions/{s['id']}", method='DELETE', timeout=30.)
    return [s['path'] for s in sessions]

def kernel_cpu_seconds(kernel_id: str) -> Optional[float]:
    """CPU seconds (user + system, all threads, reaped children included) that the running kernel `kernel_id` has used:
    how much work a notebook is, whatever else the machine runs. None if no such kernel process is found."""
    key = f'kernel-{kernel_id}.json'.encode()  # the connection file on the kernel's command line
    for proc_dir in Path('/proc').glob('[0-9]*'):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if key in (proc_dir/'cmdline').read_bytes():
                fields = (proc_dir/'stat').read_text().rsplit(')', 1)[1].split()  # fields from the 3rd (state) on
                return sum(int(f) for f in fields[11:15])/os.sysconf('SC_CLK_TCK')  # utime, stime, cutime, cstime
    return None

def _stop(proc: subprocess.Popen, grace: float = 10.) -> None:
    "SIGTERM the server's process group (server and kernels), then SIGKILL whatever is left after `grace` seconds."
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError): os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(grace)
        except subprocess.TimeoutExpired: pass
    with contextlib.suppress(ProcessLookupError): os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired): proc.wait(5)

def _kill_leftover_kernels(runtime_dir: Path) -> None:
    "SIGKILL any kernel still running from this server: those whose command line names a connection file in `runtime_dir`."
    key = str(runtime_dir).encode()
    for proc_dir in Path('/proc').glob('[0-9]*'):
        with contextlib.suppress(OSError, ValueError):
            if key in (proc_dir/'cmdline').read_bytes(): os.kill(int(proc_dir.name), signal.SIGKILL)

@contextlib.contextmanager
def chromium(scratch: Path, width: int = 1400, height: int = 1600, page_timeout: float = 60.):
    "A headless Chromium with a fresh profile, driven by Debian's chromedriver; always quit."
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f'--user-data-dir={scratch/"chromium-profile"}', f'--window-size={width},{height}']:
        opts.add_argument(flag)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(scratch/'chromedriver.log'))
    driver = webdriver.Chrome(service=service, options=opts)
    try:
        driver.set_page_load_timeout(page_timeout)
        driver.set_script_timeout(30)
        yield driver
    finally:
        driver.quit()
