"""Packaging: Briefcase accepts the tree packaging/briefcase_tree.py assembles from briefcase.toml,
and `briefcase dev` starts the console from it; the committed icons are what render_icons.py draws;
the .desktop file and AppStream metainfo pass their validators; the wheel carries what a desktop
install needs, with no setuptools warning; the release workflow parses."""

from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from briefcase.config import DraftAppConfig, parse_config
from briefcase.console import Console
from packaging.requirements import Requirement
from PIL import Image

from helpers.xvfb import SCREENSHOTS, distinct_colours, xvfb  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
BRIEFCASE = tomllib.loads((ROOT / "briefcase.toml").read_text())["tool"]["briefcase"]
APP_ID = f"{BRIEFCASE['bundle']}.strongroom"
LINUX = ROOT / "resources" / "linux"
ICONS = ROOT / "resources" / "icons"
DEV_LOCK = ROOT / "packaging" / "requirements" / "dev.lock"


def load(name: str) -> ModuleType:
    """A packaging/ script as a module (packaging/ is no package: `packaging` is PyPA's)."""
    spec = importlib.util.spec_from_file_location(f"strongroom_packaging_{name}",
                                                  ROOT / "packaging" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tree = load("briefcase_tree")
render_icons = load("render_icons")


def normalised(requirements: list[str]) -> list[str]:
    return sorted(str(Requirement(r)) for r in requirements)


# ----- Briefcase ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("platform", "output_format", "icon_files"), [
    ("linux", "system", [f"strongroom-{s}.png" for s in (16, 32, 64, 128, 256, 512)]),
    ("macOS", "app", ["strongroom.icns"]),
    ("windows", "app", ["strongroom.ico"]),
])
def test_briefcase_accepts_the_assembled_tree(tmp_path: Path, platform: str, output_format: str,
                                              icon_files: list[str]) -> None:
    pyproject = tree.assemble(tmp_path / "tree")
    _, apps = parse_config(pyproject, platform, output_format, Console())
    app = DraftAppConfig(**apps["strongroom"])
    base = pyproject.parent
    assert app.bundle_identifier == APP_ID
    assert str(app.version) == PROJECT["version"]
    # what Briefcase makes of `requires` once its platform tables are merged in (check_locks.py
    # compares briefcase.toml's own list with pyproject's)
    assert normalised(app.requires) == normalised(PROJECT["dependencies"])
    assert app.module_name == "strongroom"
    assert all((base / source).is_dir() for source in app.sources)
    assert (base / "src" / "strongroom" / "__main__.py").is_file()
    assert (base / "src" / "strongroom" / "ui" / "console.py").is_file()
    assert (base / "LICENSE").is_file()
    for name in icon_files:
        assert (base / Path(app.icon).parent / name).is_file(), name


def test_the_tree_carries_the_installed_entry_points(tmp_path: Path) -> None:
    base = tree.assemble(tmp_path / "tree").parent
    installed = {(e.group, e.name, e.value)
                 for e in metadata.distribution("strongroom").entry_points}
    for dist_info in (f"strongroom-{PROJECT['version']}.dist-info", "strongroom.dist-info"):
        parser = configparser.ConfigParser(delimiters=("=",))
        parser.optionxform = str
        parser.read(base / "src" / dist_info / "entry_points.txt")
        written = {(group, name, value) for group in parser.sections()
                   for name, value in parser[group].items()}
        assert written == installed, dist_info


def test_the_tree_refuses_what_is_not_this_project() -> None:
    project, briefcase = tree.read_configs(ROOT)
    tree.check(project, briefcase, ROOT)
    with pytest.raises(tree.TreeError, match="version"):
        tree.check({**project, "version": "9.9"}, briefcase, ROOT)
    app = briefcase["app"]["strongroom"]
    no_dist_info = {**briefcase, "app": {"strongroom": {**app, "sources": ["src/strongroom"]}}}
    with pytest.raises(tree.TreeError, match="dist-info"):
        tree.check(project, no_dist_info, ROOT)


def bootstrap_qt_packages() -> set[str]:
    """The Qt and xcb libraries packaging/bootstrap.sh installs (its Qt comment's lines)."""
    text = (ROOT / "packaging" / "bootstrap.sh").read_text()
    block = text.split("# Qt (PySide6)", 1)[1].split("\n    #", 1)[0]
    words = set(" ".join(block.splitlines()[1:]).split())
    return words - {"xvfb", "xauth", "fonts-dejavu-core"}  # the test X server, not the app


def test_the_deb_depends_on_the_libraries_the_app_loads() -> None:
    debian = BRIEFCASE["app"]["strongroom"]["linux"]["system"]["debian"]
    runtime = set(debian["system_runtime_requires"])
    assert bootstrap_qt_packages() <= runtime
    # tpm2-pytss's libraries, by the names of this Debian 12 machine (the .deb's target)
    extension = next(Path(sys.prefix).glob("lib/python3*/site-packages/tpm2_pytss/*.so"))
    ldd = subprocess.run(["ldd", str(extension)], capture_output=True, text=True, check=True)
    libraries = [line.split("=>")[1].split()[0] for line in ldd.stdout.splitlines()
                 if "libtss2" in line]
    assert libraries
    for library in libraries:
        owner = subprocess.run(["dpkg", "-S", Path(library).name], capture_output=True,
                               text=True, check=True).stdout
        packages = {line.split(":")[0] for line in owner.splitlines() if "-dev" not in line}
        assert packages & runtime, f"{library} ({packages}) missing from the .deb's requirements"


def briefcase_dev(base: Path, *app_args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`briefcase dev` in ``base``, in this venv; PIP_NO_INDEX keeps its pip run offline."""
    pin = f'requirement_installer_args=["--constraint", "{DEV_LOCK}"]'
    return subprocess.Popen(
        [sys.executable, "-m", "briefcase", "dev", "--no-isolation", "--no-input", "-C", pin,
         "--", *app_args],
        cwd=base, env={**os.environ, "PIP_NO_INDEX": "1", **env}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop(proc: subprocess.Popen[str]) -> str:
    """End ``proc`` and its children (its own session), return what it printed."""
    with_children = -proc.pid
    if proc.poll() is None:
        os.kill(with_children, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(with_children, signal.SIGKILL)
        out, _ = proc.communicate()
    return out


def test_briefcase_dev_runs_strongroom_from_the_tree(tmp_path: Path) -> None:
    base = tree.assemble(tmp_path / "tree").parent
    proc = briefcase_dev(base, "--version", env={})
    try:
        proc.wait(timeout=120)
    finally:
        out = stop(proc)
    assert proc.returncode == 0, out
    assert out.rstrip().endswith(f"strongroom {PROJECT['version']}"), out
    assert "Starting in dev mode" in out


def grab_screen(display: str, path: Path) -> int:
    """The X screen as a PNG (a separate Qt client); returns its number of distinct colours."""
    code = ("import sys; from PySide6.QtGui import QGuiApplication; "
            "app = QGuiApplication(sys.argv[:1]); "
            "sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)")
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    subprocess.run([sys.executable, "-c", code, str(path)], env=env, timeout=60, check=True)
    return distinct_colours(path)


def test_briefcase_dev_starts_the_console(xvfb: str, tmp_path: Path) -> None:  # noqa: F811
    base = tree.assemble(tmp_path / "tree").parent
    env = {"DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb", "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = briefcase_dev(base, "--vault", str(tmp_path / "vault"), env=env)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "briefcase-dev.png"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if grab_screen(xvfb, shot) > 8:  # the empty screen is one colour
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"no console on the screen; briefcase dev said:\n{stop(proc)}")
        time.sleep(1)
        assert proc.poll() is None, "the console did not keep running"
        assert grab_screen(xvfb, shot) > 8  # the picture for a person to look at, fully drawn
    finally:
        out = stop(proc)
    assert "Starting in dev mode" in out and "Traceback" not in out, out
    assert not (tmp_path / "vault").exists()  # the first-run wizard writes nothing by itself


# ----- icons --------------------------------------------------------------------------------------

def test_committed_icons_are_what_render_icons_draws(tmp_path: Path) -> None:
    shutil.copy(ICONS / "strongroom.svg", tmp_path)
    render_icons.write(tmp_path)
    for size in render_icons.SIZES:
        committed = Image.open(ICONS / f"strongroom-{size}.png")
        assert committed.size == (size, size) and committed.mode == "RGBA"
        fresh = Image.open(tmp_path / f"strongroom-{size}.png")
        difference = sum(abs(a - b) for a, b in zip(committed.tobytes(), fresh.tobytes(),
                                                   strict=True))
        # the lock pins Qt, so the same SVG draws the same pixels (recolouring just the keyhole
        # differs by 0.34 a channel); a little slack for antialiasing. If stale: `make icons`
        assert difference / (size * size * 4) < 0.05, f"strongroom-{size}.png is stale"
    pngs = {p.name for p in ICONS.glob("strongroom-*.png")}
    assert pngs == {f"strongroom-{s}.png" for s in render_icons.SIZES}
    ico = Image.open(ICONS / "strongroom.ico")
    assert ico.format == "ICO"
    assert set(ico.info["sizes"]) == {(s, s) for s in render_icons.ICO_SIZES}
    icns = Image.open(ICONS / "strongroom.icns")
    assert icns.format == "ICNS"
    # (size, scale) pairs: 16@2x is 32 px ... 512@2x is 1024 px
    drawn = {w * scale for w, _, scale in icns.info["sizes"]}
    assert drawn == set(render_icons.ICNS_SIZES)
    for w, h, scale in icns.info["sizes"]:
        icns.size = (w, h)
        icns.load(scale)
        assert icns.size == (w * scale, h * scale)


# ----- Linux desktop integration ------------------------------------------------------------------

def run_validator(*command: str) -> str:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed; packaging/bootstrap.sh installs it")
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    return out


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(LINUX / f"{APP_ID}.desktop")
    return parser["Desktop Entry"]


def test_desktop_file_and_metainfo_pass_their_validators(tmp_path: Path) -> None:
    desktop, metainfo = LINUX / f"{APP_ID}.desktop", LINUX / f"{APP_ID}.metainfo.xml"
    assert run_validator("desktop-file-validate", str(desktop)).strip() == ""
    run_validator("appstreamcli", "validate", "--no-net", "--pedantic", str(metainfo))
    # installed as a distribution would: the metainfo finds its .desktop file and icons
    share = tmp_path / "usr" / "share"
    for src, dest in ((desktop, share / "applications"), (metainfo, share / "metainfo")):
        dest.mkdir(parents=True)
        shutil.copy(src, dest)
    for size in render_icons.SIZES:
        apps = share / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        apps.mkdir(parents=True)
        shutil.copy(ICONS / f"strongroom-{size}.png", apps / f"{APP_ID}.png")
    out = run_validator("appstreamcli", "validate-tree", "--no-net", "--pedantic", str(tmp_path))
    assert "Validation was successful" in out


def test_desktop_file_and_metainfo_agree_with_the_project() -> None:
    entry = desktop_entry()
    assert entry["Exec"] in PROJECT["scripts"] and entry["TryExec"] == entry["Exec"]
    assert entry["Icon"] == APP_ID
    assert entry["StartupWMClass"] == BRIEFCASE["app"]["strongroom"]["formal_name"]
    component = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot()  # noqa: S314 - ours
    assert component.findtext("id") == APP_ID
    assert component.findtext("launchable") == f"{APP_ID}.desktop"
    assert component.findtext("project_license") == PROJECT["license"]
    assert component.findtext("name") == entry["Name"]
    newest = component.find("releases/release")
    assert newest is not None and newest.get("version") == PROJECT["version"]


def test_the_console_names_its_desktop_file(tmp_path: Path) -> None:
    """Wayland and the portals match windows to the menu entry by this name."""
    code = ("import sys; from pathlib import Path; from strongroom.ui.console import build; "
            "app, window = build(Path(sys.argv[1])); print(app.desktopFileName())")
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "vault")], capture_output=True, text=True,
        timeout=60, check=False, env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                      "XDG_RUNTIME_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == APP_ID
    assert (LINUX / f"{proc.stdout.strip()}.desktop").is_file()


# ----- the wheel ----------------------------------------------------------------------------------

def test_the_wheel_carries_the_desktop_files_without_setuptools_warnings(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a copy: the build leaves build/ and *.egg-info behind
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("app", "backends", "ui", "resources", "packaging/strongroom"):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    for warning in ("absent from the `packages`", "Package would be ignored", "not in packages"):
        assert warning not in log, log
    wheel = next((tmp_path / "dist").glob("strongroom-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"strongroom/resources/{p.relative_to(ROOT / 'resources').as_posix()}"
               for p in (ROOT / "resources").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert shipped <= names, sorted(shipped - names)
    for needed in (f"{APP_ID}.desktop", f"{APP_ID}.metainfo.xml"):
        assert f"strongroom/resources/linux/{needed}" in names
    assert "strongroom/resources/icons/strongroom.icns" in names


# ----- the release workflow -----------------------------------------------------------------------

def test_the_release_workflow_parses_and_covers_every_os() -> None:
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    jobs = workflow["jobs"]
    runners = {job["runs-on"].split("-")[0] for job in jobs.values()}
    assert runners == {"ubuntu", "macos", "windows"}
    steps = {name: "\n".join(str(s.get("run", "")) for s in job["steps"])
             for name, job in jobs.items()}
    assert ".ci/run" in steps["test-linux"]
    for name, package in (("package-linux", "linux system"), ("package-macos", "macOS app"),
                          ("package-windows", "windows app")):
        assert "packaging/briefcase_tree.py" in steps[name]
        for verb in ("create", "build", "package"):
            assert f"briefcase {verb} {package}" in steps[name], (name, verb)
        assert any("upload-artifact" in s.get("uses", "") for s in jobs[name]["steps"])
    for test_file in workflow["env"]["PORTABLE_TESTS"].split():
        assert (ROOT / test_file).is_file(), test_file
