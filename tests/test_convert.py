"""`resocket convert-app`: manifest translation, reading folders/zips/CRX2/CRX3, the API report, the CLI."""
from __future__ import annotations

import io
import json
import struct
import sys
import zipfile
from pathlib import Path

import pytest
from resocket import cli
from resocket.cli import convert, crx
from resocket.cli.convert import ConvertError

REPO = Path(__file__).resolve().parents[1]
TCP_EXAMPLE = REPO / "examples" / "tcp-echo-client"


def app_manifest(**extra: object) -> dict:
    manifest = {"manifest_version": 2, "name": "Demo", "version": "1.2",
                "app": {"background": {"scripts": ["bg.js"]}},
                "permissions": ["storage", {"socket": ["tcp-connect:localhost:*", "udp-bind"]}]}
    manifest.update(extra)
    return manifest


def app_files(manifest: dict | None = None, **files: str) -> dict[str, bytes]:
    out = {"manifest.json": json.dumps(manifest or app_manifest()).encode(),
           "bg.js": b"chrome.app.runtime.onLaunched.addListener(function(){ chrome.app.window.create('w.html'); });",
           "w.html": b"<!DOCTYPE html><html><head><title>w</title></head><body><script src='w.js'></script></body></html>",
           "w.js": b"var socket = chrome.socket || chrome.experimental.socket; socket.create('tcp', {}, function(){});"}
    out.update({name.replace("__", "/"): text.encode() for name, text in files.items()})
    return out


def zip_bytes(files: dict[str, bytes], prefix: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(prefix + name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def rsa_key() -> object:
    return crx.generate_private_key()


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = tmp_path / "config"
    monkeypatch.setenv("RESOCKET_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no real browser's host manifest is touched
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return cfg


# -- manifest translation ------------------------------------------------------------------------------
def test_translation_runs_background_scripts_in_a_page_and_launches_from_a_service_worker() -> None:
    t = convert.translate_manifest(app_manifest())
    assert t.manifest["manifest_version"] == 3
    assert t.manifest["background"] == {"service_worker": "resocket/service-worker.js"}
    assert t.background_scripts == ["bg.js"] and t.background_page is None
    assert t.manifest["action"]["default_title"] == "Launch Demo"
    assert "app" not in t.manifest


def test_translation_keeps_mv3_permissions_adds_native_messaging_and_reports_socket() -> None:
    t = convert.translate_manifest(app_manifest(permissions=[
        "storage", "alarms", "fileSystem", "http://example.com/*", "bogus", {"socket": ["tcp-connect"]}]))
    assert t.manifest["permissions"] == ["storage", "alarms", "nativeMessaging"]
    assert t.manifest["host_permissions"] == ["http://example.com/*"]
    notes = "\n".join(t.notes)
    assert "'fileSystem': chrome.fileSystem is emulated on the browser's File System Access API" in notes
    assert "'bogus': unknown to MV3, dropped" in notes
    assert "{'socket': ...}: provided by resocket" in notes


def test_translation_moves_csp_sandbox_and_web_accessible_resources_to_mv3_forms() -> None:
    t = convert.translate_manifest(app_manifest(
        content_security_policy="script-src 'self' 'unsafe-eval' https://cdn.example.com; object-src 'self'",
        sandbox={"pages": ["s.html"], "content_security_policy": "sandbox allow-scripts"},
        web_accessible_resources=["img/*.png"]))
    csp = t.manifest["content_security_policy"]
    assert csp == {"sandbox": "sandbox allow-scripts", "extension_pages": "script-src 'self'; object-src 'self'"}
    assert t.manifest["sandbox"] == {"pages": ["s.html"]}
    assert t.manifest["web_accessible_resources"] == [{"resources": ["img/*.png"], "matches": ["<all_urls>"]}]
    assert any("'unsafe-eval', https://cdn.example.com" in n for n in t.notes)


def test_translation_reports_every_dropped_field() -> None:
    manifest = app_manifest(kiosk_enabled=True, file_handlers={}, update_url="https://x/u.xml")
    manifest["app"]["url_handlers"] = {}
    notes = convert.translate_manifest(manifest).notes
    for expected in ("'file_handlers'", "'kiosk_enabled'", "update_url", "app.url_handlers"):
        assert any(expected in n for n in notes), expected


def test_extensions_are_refused_as_not_a_chrome_app() -> None:
    with pytest.raises(ConvertError, match="not a Chrome App"):
        convert.translate_manifest({"manifest_version": 2, "name": "x", "version": "1"})


def test_hosted_apps_are_refused_as_a_bookmark_to_their_web_site() -> None:
    hosted = {"name": "x", "version": "1", "app": {"urls": ["https://mail.example.com/"],
                                                   "launch": {"web_url": "https://mail.example.com/"}}}
    with pytest.raises(ConvertError, match=r"a hosted app \(app.launch.web_url: https://mail.example.com/\)"):
        convert.translate_manifest(hosted)


def test_legacy_packaged_apps_are_refused_for_having_no_background_page() -> None:
    with pytest.raises(ConvertError, match="legacy packaged app .* no background page"):
        convert.translate_manifest({"name": "x", "version": "1", "app": {"launch": {"local_path": "a.html"}}})


def test_background_scripts_and_page_together_are_refused_as_chrome_does() -> None:
    manifest = app_manifest()
    manifest["app"]["background"] = {"scripts": ["bg.js"], "page": "bg.html"}
    with pytest.raises(ConvertError, match="both \"scripts\" and \"page\""):
        convert.translate_manifest(manifest)


def test_a_manifest_with_comments_and_trailing_commas_is_read_as_chrome_read_it() -> None:
    text = """{
      // a 2013 app's manifest, commented
      "manifest_version": 2, /* block
      comment */ "name": "Demo // not a comment", "version": "1.2",
      "homepage_url": "http://example.com/a/*b*/",
      "app": {"background": {"scripts": ["bg.js",],},},
      "permissions": [{"socket": ["tcp-connect:localhost:*",]},],
    }"""
    manifest = convert.AppSource(app_files(**{"manifest.json": text})).manifest
    assert manifest["name"] == "Demo // not a comment"
    assert manifest["homepage_url"] == "http://example.com/a/*b*/"
    assert manifest["app"] == {"background": {"scripts": ["bg.js"]}}
    assert convert.socket_rules(manifest) == ["tcp-connect:localhost:*"]
    with pytest.raises(ConvertError, match="not valid JSON"):
        _ = convert.AppSource(app_files(**{"manifest.json": '{"name": "x" /* never closed'})).manifest


def test_socket_rules_come_from_permissions_and_the_sockets_key() -> None:
    assert convert.socket_rules(app_manifest()) == ["tcp-connect:localhost:*", "udp-bind"]
    assert convert.socket_rules({"permissions": ["socket"]}) == [
        "tcp-connect", "tcp-listen", "udp-bind", "udp-send-to", "udp-multicast-membership"]
    sockets = {"tcp": {"connect": ["a.com:80", "*:443"]}, "tcpServer": {"listen": "*:*"},
               "udp": {"bind": "", "send": "*", "multicastMembership": ""}}
    assert convert.socket_rules({"sockets": sockets}) == [
        "tcp-connect:a.com:80", "tcp-connect:*:443", "tcp-listen:*:*", "udp-bind", "udp-send-to:*",
        "udp-multicast-membership"]


# -- reading the source -----------------------------------------------------------------------------------
def test_folder_and_zip_with_a_top_folder_read_the_same(tmp_path: Path) -> None:
    files = app_files()
    (tmp_path / "app").mkdir()
    for name, data in files.items():
        (tmp_path / "app" / name).write_bytes(data)
    (tmp_path / "app.zip").write_bytes(zip_bytes(files, prefix="demo-1.2/"))
    folder, zipped = convert.read_source(tmp_path / "app"), convert.read_source(tmp_path / "app.zip")
    assert folder.files == zipped.files == files
    assert (folder.kind, zipped.kind) == ("folder", "zip")


def test_crx2_keeps_the_packaged_key_so_the_id_does_not_change(tmp_path: Path, rsa_key: object) -> None:
    spki = crx.public_key_der(rsa_key)
    signature = b"\x01" * 256
    data = b"Cr24" + struct.pack("<III", 2, len(spki), len(signature)) + spki + signature + zip_bytes(app_files())
    (tmp_path / "app.crx").write_bytes(data)
    source = convert.read_source(tmp_path / "app.crx")
    assert source.kind == "crx2" and source.crx_key == spki
    conversion = convert.convert(source, {})
    assert conversion.ext_id == crx.extension_id(spki)
    assert "CRX" in conversion.report.key_source


def test_crx3_keeps_the_key_named_by_its_crx_id(tmp_path: Path, rsa_key: object) -> None:
    data = crx.build_crx3(zip_bytes(app_files()), rsa_key)
    (tmp_path / "app.crx").write_bytes(data)
    source = convert.read_source(tmp_path / "app.crx")
    assert source.kind == "crx3" and source.crx_key == crx.public_key_der(rsa_key)
    assert source.files == app_files()


def test_corrupt_inputs_are_refused_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.crx").write_bytes(b"Cr24" + struct.pack("<III", 3, 1000, 0))
    with pytest.raises(ConvertError, match="truncated CRX3"):
        convert.read_source(tmp_path / "bad.crx")
    (tmp_path / "v9.crx").write_bytes(b"Cr24" + struct.pack("<III", 9, 0, 0))
    with pytest.raises(ConvertError, match="CRX version 9"):
        convert.read_source(tmp_path / "v9.crx")
    (tmp_path / "short.crx").write_bytes(b"Cr24\x03\x00")
    with pytest.raises(ConvertError, match="truncated CRX file: 6 bytes"):
        convert.read_source(tmp_path / "short.crx")
    (tmp_path / "x.txt").write_bytes(b"hello")
    with pytest.raises(ConvertError, match="not a folder, a .zip or a .crx"):
        convert.read_source(tmp_path / "x.txt")
    (tmp_path / "evil.zip").write_bytes(zip_bytes({"manifest.json": b"{}", "../x": b""}))
    with pytest.raises(ConvertError, match="unsafe path"):
        convert.read_source(tmp_path / "evil.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConvertError, match="no manifest.json"):
        convert.read_source(tmp_path / "empty")


def test_a_crx3_without_a_key_proof_is_refused_instead_of_getting_a_new_id(tmp_path: Path) -> None:
    header = b"\x82\xf1\x04\x02\x0a\x00"  # only signed_header_data (field 10000) with an empty crx_id
    (tmp_path / "nokey.crx").write_bytes(b"Cr24" + struct.pack("<II", 3, len(header)) + header + zip_bytes(app_files()))
    with pytest.raises(ConvertError, match="holds no public key"):
        convert.read_source(tmp_path / "nokey.crx")


# -- the API scan and report ------------------------------------------------------------------------------
def test_scan_follows_socket_aliases_and_classifies_every_api() -> None:
    files = {"a.js": b"""
        var socket = chrome.socket || chrome.experimental.socket;
        socket.create('udp', function(i) { socket.bind(i.socketId, '0.0.0.0', 0, function(){}); });
        socket.frobnicate();
        chrome.fileSystem.chooseEntry({}, function(){});
        chrome.serial.connect('/dev/ttyS0', function(){});
        chrome.app.window.create('w.html');
        chrome.storage.local.get('k', function(){});
        chrome.runtime.getBackgroundPage(function(){});
    """}
    uses = {u.name: u.status for u in convert.scan_apis(files)}
    assert uses == {
        "chrome.socket.create": "supported", "chrome.socket.bind": "supported",
        "chrome.socket.frobnicate": "missing", "chrome.fileSystem.chooseEntry": "emulated",
        "chrome.serial.connect": "missing",
        "chrome.app.window.create": "emulated", "chrome.storage.local.get": "supported",
        "chrome.runtime.getBackgroundPage": "emulated",
    }
    assert convert.missing_namespaces(convert.scan_apis(files)) == ["serial"]


def test_chrome_file_system_without_the_permission_is_reported_missing_and_stubbed() -> None:
    files = app_files(app_manifest(key=convert_key()))
    files["w.js"] += b"\nchrome.fileSystem.chooseEntry({type: 'openFile'}, function() {});\n"
    conversion = convert.convert(convert.AppSource(files), {})
    use = next(u for u in conversion.report.apis if u.name == "chrome.fileSystem.chooseEntry")
    assert use.status == "missing" and "no fileSystem permission" in use.how
    assert '"missing": [\n    "fileSystem"\n  ]' in conversion.files["resocket/app-config.js"].decode()
    assert '"fileSystem": null' in conversion.files["resocket/app-config.js"].decode()


def test_the_runtime_is_told_the_apps_file_system_permission_as_chrome_read_it() -> None:
    assert convert.file_system_permission(app_manifest()) is None  # no chrome.fileSystem at all
    assert convert.file_system_permission(app_manifest(permissions=["fileSystem"])) == []
    assert convert.file_system_permission(app_manifest(permissions=[
        "storage", {"fileSystem": ["write", "retainEntries", "directory"]}])) == ["write", "retainEntries", "directory"]


def test_report_lists_each_api_with_its_status_and_files() -> None:
    source = convert.AppSource(app_files(app_manifest(key=convert_key())))
    report = convert.convert(source, {}).report
    text = "\n".join(report.lines())
    assert report.lines()[1] == "chrome.* APIs used: 3 (1 supported, 2 emulated, 0 missing)"
    by_name = {u.name: u for u in report.apis}
    assert by_name["chrome.socket.create"].files == ("w.js",)
    assert by_name["chrome.app.runtime.onLaunched"].status == "emulated"
    assert "supported chrome.socket.create" in " ".join(text.split())


def convert_key() -> str:
    import base64

    return base64.b64encode(crx.public_key_der(crx.generate_private_key())).decode()


# -- the converted files ----------------------------------------------------------------------------------
def test_pages_get_the_runtime_scripts_before_anything_else() -> None:
    html = b"<!DOCTYPE html>\n<html lang=en><HEAD class='x'><script src='app.js'></script></HEAD></html>"
    out = convert.inject_scripts(html)
    assert out.index(b"/resocket/chrome-socket.js") < out.index(b"/resocket/app-config.js") < \
        out.index(b"/resocket/app-runtime.js") < out.index(b"app.js")
    assert out.startswith(b"<!DOCTYPE html>\n<html lang=en><HEAD class='x'>\n<script")
    assert convert.inject_scripts(b"<p>bare</p>").startswith(b"<script src=\"/resocket/chrome-socket.js\">")


def test_conversion_writes_background_page_config_and_keeps_the_apps_key() -> None:
    key = convert_key()
    source = convert.AppSource(app_files(app_manifest(key=key), _metadata__verified_contents="x",
                                         sandboxed="<html><head></head></html>"))
    conversion = convert.convert(source, {"app-runtime.js": b"//rt"})
    files = conversion.files
    manifest = json.loads(files["manifest.json"])
    assert manifest["key"] == key and conversion.ext_id == crx.extension_id(crx.spki_from_b64(key))
    assert b'<script src="/bg.js"></script>' in files["resocket/background.html"]
    assert b"/resocket/app-runtime.js" in files["w.html"]
    assert files["resocket/app-runtime.js"] == b"//rt"
    assert not any(name.startswith("_metadata") for name in files)  # Chrome refuses "_" names
    config = files["resocket/app-config.js"].decode()
    assert '"background": "resocket/background.html"' in config and conversion.ext_id in config


def test_an_app_with_its_own_resocket_folder_is_refused() -> None:
    source = convert.AppSource(app_files(app_manifest(key=convert_key()), resocket__x="1"))
    with pytest.raises(ConvertError, match="resocket/ folder"):
        convert.convert(source, {})


# -- the CLI ----------------------------------------------------------------------------------------------
def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            stdin: str = "") -> tuple[int, list[str], str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_cli_grants_declared_rules_with_yes_and_prints_the_launch_url_last(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from resocket.grants import GrantStore

    out = tmp_path / "out"
    code, lines, _ = run_cli(["convert-app", str(TCP_EXAMPLE), str(out), "--yes"], capsys, monkeypatch)
    assert code == 0
    ext_id = json.loads((out / "resocket" / "report.json").read_text())["id"]
    assert lines[-1] == f"chrome-extension://{ext_id}/resocket/launch.html"
    assert GrantStore.open(config_dir).rules_for(f"chrome-extension://{ext_id}/") == ["tcp-connect:*:*"]
    assert (out / "resocket" / "chrome-socket.js").read_bytes() == (REPO / "extension" / "chrome-socket.js").read_bytes()
    # Converting again gives the same ID: the generated key was kept in the config dir.
    code, again, _ = run_cli(["convert-app", str(TCP_EXAMPLE), str(out), "--yes"], capsys, monkeypatch)
    assert code == 0 and again[-1] == lines[-1]
    assert list((config_dir / "app-keys").glob("*.pem"))


def test_cli_asks_before_granting_and_a_no_grants_nothing(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from resocket.grants import GrantStore

    code, lines, err = run_cli(["convert-app", str(TCP_EXAMPLE), str(tmp_path / "out")], capsys, monkeypatch,
                               stdin="n\n")
    assert code == 0 and "Grant these 1 rule(s)" in err
    assert any(line.startswith("Not granted") for line in lines)
    assert GrantStore.open(config_dir).all() == {}
    assert lines[-1].endswith("/resocket/launch.html")


def test_cli_writes_no_user_grant_while_the_administrator_locked_the_grants(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from resocket.grants import GrantStore

    system = tmp_path / "system"
    monkeypatch.setenv("RESOCKET_SYSTEM_CONFIG_DIR", str(system))
    GrantStore.open_managed(system).set_locked(True)
    code, lines, _ = run_cli(["convert-app", str(TCP_EXAMPLE), str(tmp_path / "out"), "--yes"], capsys, monkeypatch)
    assert code == 0 and lines[-1].endswith("/resocket/launch.html")
    [note] = [line for line in lines if line.startswith("Not granted")]
    assert "your administrator locked the grants" in note and "resocket grant --scope system chrome-extension://" in note
    assert GrantStore.open(config_dir).all() == {}


def test_cli_registers_the_origin_with_the_host_of_a_user_data_dir(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    host = tmp_path / "resocket-host"
    host.write_text("#!/bin/sh\n")
    host.chmod(0o755)
    udd = tmp_path / "udd"
    code, lines, _ = run_cli(["convert-app", str(TCP_EXAMPLE), str(tmp_path / "out"), "--yes",
                              "--user-data-dir", str(udd), "--host-path", str(host)], capsys, monkeypatch)
    assert code == 0
    manifest = json.loads((udd / "NativeMessagingHosts" / "org.resocket.host.json").read_text())
    origin = lines[-1].rsplit("resocket/launch.html", 1)[0]
    assert origin in manifest["allowed_origins"] and manifest["path"] == str(host)


def test_cli_refuses_to_overwrite_a_folder_that_is_not_a_conversion(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    code, _lines, err = run_cli(["convert-app", str(TCP_EXAMPLE), str(out), "--yes"], capsys, monkeypatch)
    assert code == 1 and "not a previous conversion" in err
    assert (out / "precious.txt").read_text() == "keep me"


def test_every_example_converts_with_no_missing_api(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for example in ("tcp-echo-client", "http-server", "udp-echo-client", "multicast-chat", "tls-client",
                    "web-server-sockets", "folder-server"):
        out = tmp_path / example
        code, _lines, err = run_cli(["convert-app", str(REPO / "examples" / example), str(out), "--yes"],
                                   capsys, monkeypatch)
        assert code == 0, err
        report = json.loads((out / "resocket" / "report.json").read_text())
        assert [a["name"] for a in report["apis"] if a["status"] == "missing"] == [], example
        assert report["socket_rules"] and not report["invalid_socket_rules"]


def test_an_apps_own_background_page_is_used_with_the_runtime_injected() -> None:
    manifest = app_manifest(key=convert_key(), app={"background": {"page": "bg.html"}})
    source = convert.AppSource(app_files(manifest))
    source.files["bg.html"] = b"<html><head></head><body><script src='bg.js'></script></body></html>"
    files = convert.convert(source, {}).files
    assert "resocket/background.html" not in files
    assert b"/resocket/app-runtime.js" in files["bg.html"]
    assert '"background": "bg.html"' in files["resocket/app-config.js"].decode()


# -- which HTML files get the runtime ---------------------------------------------------------------------
def test_window_create_string_literals_are_found_in_every_call_form() -> None:
    script = """
        chrome.app.window.create("a.html", {bounds: {width: 640}}, function(w) {});
        chrome.app.window.create('index.html');
        chrome.app.window.create(`t.html`, {});
        chrome.app.window.create( 'spaced.html' , cb);
        chrome.app.window.create(name + '.html');
        chrome.app.window.create('prefix' + suffix);
        chrome.app.window.create(`${page}.html`);
    """
    assert convert.window_create_urls(script) == ["a.html", "index.html", "t.html", "spaced.html"]


def web_server_app(**extra: str) -> dict[str, bytes]:
    manifest = app_manifest(key=convert_key())
    served = b"<!DOCTYPE html><html><head><title>served</title></head><body><a href='b.html'>b</a></body></html>"
    files = app_files(manifest, **extra)
    files["bg.js"] = (b"chrome.app.runtime.onLaunched.addListener(function() {\n"
                      b"  chrome.app.window.create(\"w.html\", {id: 'main'}, function(w) {});\n});\n"
                      b"function serve(path) { if (path === '/') path += 'index.html'; return 'www' + path; }\n")
    files["www/index.html"] = served
    files["www/b.html"] = b"<html><body>b</body></html>"
    return files


def test_only_pages_the_app_shows_get_the_runtime_and_data_html_keeps_its_bytes() -> None:
    source = convert.AppSource(web_server_app())
    conversion = convert.convert(source, {})
    files = conversion.files
    assert b"/resocket/app-runtime.js" in files["w.html"]
    assert b"/resocket/app-runtime.js" in files["resocket/background.html"]
    assert files["www/index.html"] == source.files["www/index.html"]
    assert files["www/b.html"] == source.files["www/b.html"]
    pages = conversion.report.as_json()["pages"]
    assert pages == {"runtime": ["w.html"], "data": ["www/b.html", "www/index.html"], "sandboxed": []}
    config = files["resocket/app-config.js"].decode()
    assert '"dataPages": [\n    "www/b.html",\n    "www/index.html"\n  ]' in config
    text = "\n".join(conversion.report.lines())
    assert "with the resocket runtime: w.html" in text
    assert "left as data, unchanged: www/b.html, www/index.html" in text


def test_pages_reached_by_relative_links_and_frames_from_a_shown_page_get_the_runtime() -> None:
    files = web_server_app()
    files["w.html"] = (b"<html><head></head><body><a class=x href=\"help/about.html#top\">about</a>"
                       b"<iframe src='frame.html?x=1'></iframe><a href='https://example.com/x.html'>x</a>"
                       b"<a href='#'>top</a></body></html>")
    files["help/about.html"] = b"<html><head></head><body><a href='../w.html'>back</a>" \
                               b"<a href=\"/help/more.htm\">more</a></body></html>"
    files["help/more.htm"] = b"<p>more</p>"
    files["frame.html"] = b"<html><head></head></html>"
    pages = convert.shown_pages(files, None)
    assert pages.runtime == ("frame.html", "help/about.html", "help/more.htm", "w.html")
    assert pages.data == ("www/b.html", "www/index.html")


def test_the_apps_background_page_is_shown_and_sandboxed_pages_stay_unchanged() -> None:
    files = web_server_app()
    files["bg.html"] = b"<html><head></head><body><iframe src='sandboxed.html'></iframe></body></html>"
    files["sandboxed.html"] = b"<html><head></head><body>eval here</body></html>"
    pages = convert.shown_pages(files, "/bg.html", ["sandboxed.html"])
    assert pages.runtime == ("bg.html", "w.html")
    assert pages.sandboxed == ("sandboxed.html",)
    assert "sandboxed.html" not in pages.data


def test_window_urls_resolve_from_the_app_root_or_the_scripts_folder() -> None:
    files = {"manifest.json": b"{}", "js/bg.js": b"chrome.app.window.create('main.html');"
             b"chrome.app.window.create('/views/v.html?mode=x'); chrome.app.window.create('local.html')",
             "main.html": b"", "views/v.html": b"", "js/local.html": b"", "js/unused.html": b""}
    pages = convert.shown_pages(files, None)
    assert pages.runtime == ("js/local.html", "main.html", "views/v.html")
    assert pages.data == ("js/unused.html",)
    assert convert.resolve_url("../../etc/passwd", "js", files) is None
    assert convert.resolve_url("chrome-extension://abc/main.html", "", files) is None


# -- host manifests convert-app updates ---------------------------------------------------------------------
def _installed_host(tmp_path: Path, root: Path) -> tuple[Path, Path]:
    """A user-wide and a system-wide (under `root`) resocket manifest for Chromium, as `resocket install` writes."""
    host = tmp_path / "bin" / "resocket-host"
    host.parent.mkdir()
    host.write_text("#!/bin/sh\n")
    host.chmod(0o755)
    (tmp_path / "home/.config/chromium").mkdir(parents=True)
    for scope in ("user", "system"):
        assert cli.main(["install", "--browser", "chromium", "--scope", scope, "--root", str(root),
                         "--host-path", str(host)]) == 0
    return (tmp_path / "home/.config/chromium/NativeMessagingHosts/org.resocket.host.json",
            root / "etc/chromium/native-messaging-hosts/org.resocket.host.json")


def test_cli_adds_a_granted_app_to_user_and_system_host_manifests(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    user, system = _installed_host(tmp_path, root)
    code, lines, _ = run_cli(["convert-app", str(TCP_EXAMPLE), str(tmp_path / "out"), "--yes", "--root", str(root)],
                             capsys, monkeypatch)
    assert code == 0
    origin = lines[-1].rsplit("resocket/launch.html", 1)[0]
    for manifest in (user, system):
        assert origin in json.loads(manifest.read_text())["allowed_origins"], manifest
    assert any(line.startswith("Allowed to start resocket-host in") and str(system) in line for line in lines)


def test_cli_does_not_allow_an_app_whose_grant_was_declined(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    user, system = _installed_host(tmp_path, root)
    host = tmp_path / "bin" / "resocket-host"
    udd = tmp_path / "udd"
    code, lines, _ = run_cli(["convert-app", str(TCP_EXAMPLE), str(tmp_path / "out"), "--root", str(root),
                              "--user-data-dir", str(udd), "--host-path", str(host)], capsys, monkeypatch, stdin="n\n")
    assert code == 0
    origin = lines[-1].rsplit("resocket/launch.html", 1)[0]
    for manifest in (user, system, udd / "NativeMessagingHosts/org.resocket.host.json"):
        assert origin not in json.loads(manifest.read_text())["allowed_origins"], manifest


def test_cli_names_a_system_manifest_it_cannot_write_and_the_command_that_updates_it(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    root = tmp_path / "root"
    user, system = _installed_host(tmp_path, root)
    real_replace = os.replace

    def replace(src: object, dst: object) -> None:  # the system folder belongs to root: writing it is denied
        if str(dst).startswith(str(root)):
            raise PermissionError(13, "Permission denied", str(dst))
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace)
    code, lines, _ = run_cli(["convert-app", str(TCP_EXAMPLE), str(tmp_path / "out"), "--yes", "--root", str(root)],
                             capsys, monkeypatch)
    assert code == 0
    origin = lines[-1].rsplit("resocket/launch.html", 1)[0]
    assert origin in json.loads(user.read_text())["allowed_origins"]
    assert origin not in json.loads(system.read_text())["allowed_origins"]
    [note] = [line for line in lines if line.startswith("Not updated:")]
    assert str(system) in note and "Permission denied" in note
    assert "run `sudo resocket install --browser chromium --scope system` to let the system-wide host accept this app" in note
    assert not [p for p in system.parent.iterdir() if p.name.endswith(".tmp")]


# -- one app, one ID (appkeys) ------------------------------------------------------------------------------
def write_app(folder: Path, rules: list[str], version: str = "1.0", body: str = "") -> Path:
    """A keyless app named "Hello World!", as two unrelated samples were."""
    manifest = app_manifest(name="Hello World!", version=version, permissions=[{"socket": rules}])
    for path, data in app_files(manifest, **({"bg.js": body} if body else {})).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    return folder


def converted_id(out: Path) -> str:
    return json.loads((out / "resocket" / "report.json").read_text())["id"]


def kept_keys(config_dir: Path) -> list[str]:
    keys = config_dir / "app-keys"
    return sorted(p.name for p in keys.iterdir()) if keys.exists() else []


def test_two_different_apps_with_the_same_name_never_share_an_id_or_grants(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from resocket.grants import GrantStore

    tcp_app = write_app(tmp_path / "tcp-app", ["tcp-connect:localhost:8080"])
    udp_app = write_app(tmp_path / "udp-app", ["udp-send-to:*:5353"], body="chrome.socket.create('udp', {});")
    code, _, _ = run_cli(["convert-app", str(tcp_app), str(tmp_path / "out-tcp"), "--yes"], capsys, monkeypatch)
    assert code == 0
    tcp_id = converted_id(tmp_path / "out-tcp")
    [tcp_key] = [k for k in kept_keys(config_dir) if k.endswith(".pem")]

    # Same name, other app: not converted, and told how to choose; nothing written.
    before = kept_keys(config_dir)
    code, lines, err = run_cli(["convert-app", str(udp_app), str(tmp_path / "out-udp"), "--yes"], capsys, monkeypatch)
    assert code == 1 and lines == [], lines
    assert f"an app named 'Hello World!' was converted before, and nothing says this one ({udp_app}) is that app" \
        in err, err
    assert f"--key {config_dir / 'app-keys' / tcp_key} (app 1)" in err and "--new-key" in err, err
    assert kept_keys(config_dir) == before and not (tmp_path / "out-udp").exists()

    code, _, _ = run_cli(["convert-app", str(udp_app), str(tmp_path / "out-udp"), "--yes", "--new-key"],
                         capsys, monkeypatch)
    assert code == 0
    udp_id = converted_id(tmp_path / "out-udp")
    assert udp_id != tcp_id
    store = GrantStore.open(config_dir)
    assert store.rules_for(f"chrome-extension://{tcp_id}/") == ["tcp-connect:localhost:8080"]
    assert store.rules_for(f"chrome-extension://{udp_id}/") == ["udp-send-to:*:5353"]
    # From now on each is known by where it came from: converting either again asks nothing and keeps its ID.
    for app, out, ext_id in ((udp_app, "out-udp", udp_id), (tcp_app, "out-tcp", tcp_id)):
        code, lines, err = run_cli(["convert-app", str(app), str(tmp_path / out), "--yes"], capsys, monkeypatch)
        assert (code, converted_id(tmp_path / out)) == (0, ext_id), err
        assert lines[-1] == f"chrome-extension://{ext_id}/resocket/launch.html"


def test_a_newer_version_of_the_same_app_keeps_its_id(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    app = write_app(tmp_path / "app", ["tcp-connect"])
    assert run_cli(["convert-app", str(app), str(tmp_path / "out"), "--yes"], capsys, monkeypatch)[0] == 0
    first = converted_id(tmp_path / "out")
    # Updated in place (a new version in the same folder): same source, same ID, nothing asked.
    write_app(app, ["tcp-connect", "udp-bind"], version="1.1", body="chrome.socket.create('udp', {});")
    code, _, err = run_cli(["convert-app", str(app), str(tmp_path / "out"), "--yes"], capsys, monkeypatch)
    assert (code, converted_id(tmp_path / "out")) == (0, first), err
    # The same files from somewhere else (a zip of that folder): same files, same ID.
    packed = tmp_path / "app-1.1.zip"
    packed.write_bytes(zip_bytes({p.relative_to(app).as_posix(): p.read_bytes() for p in app.rglob("*") if p.is_file()}))
    code, _, err = run_cli(["convert-app", str(packed), str(tmp_path / "out"), "--yes"], capsys, monkeypatch)
    assert (code, converted_id(tmp_path / "out")) == (0, first), err
    # A version 1.2 downloaded elsewhere: only the user knows; answering 1 keeps the ID, and it is remembered.
    newer = write_app(tmp_path / "download" / "app-1.2", ["tcp-connect"], version="1.2", body="// 1.2")
    code, _, err = run_cli(["convert-app", str(newer), str(tmp_path / "out")], capsys, monkeypatch, stdin="1\ny\n")
    assert (code, converted_id(tmp_path / "out")) == (0, first), err
    assert "Is it that app? Its number keeps that ID" in err
    code, _, err = run_cli(["convert-app", str(newer), str(tmp_path / "out"), "--yes"], capsys, monkeypatch)
    assert (code, converted_id(tmp_path / "out")) == (0, first), err
    # Answering "new" gives a different app its own ID.
    other = write_app(tmp_path / "other", ["udp-bind"], body="// another app")
    code, _, err = run_cli(["convert-app", str(other), str(tmp_path / "out-other")], capsys, monkeypatch,
                           stdin="new\nn\n")
    assert code == 0 and converted_id(tmp_path / "out-other") != first, err


def test_a_refused_conversion_leaves_no_generated_key_behind(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    app = write_app(tmp_path / "app", ["tcp-connect"])
    # Bad input: OUT is someone's folder; an app with a resocket/ folder of its own; an extension, not an app.
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    assert run_cli(["convert-app", str(app), str(taken), "--yes"], capsys, monkeypatch)[0] == 1
    clash = write_app(tmp_path / "clash", ["tcp-connect"])
    (clash / "resocket").mkdir()
    (clash / "resocket" / "x.js").write_text("")
    assert run_cli(["convert-app", str(clash), str(tmp_path / "out"), "--yes"], capsys, monkeypatch)[0] == 1
    extension = tmp_path / "extension"
    extension.mkdir()
    (extension / "manifest.json").write_text(json.dumps({"manifest_version": 2, "name": "Hello World!",
                                                          "version": "1", "background": {"scripts": ["b.js"]}}))
    assert run_cli(["convert-app", str(extension), str(tmp_path / "out"), "--yes"], capsys, monkeypatch)[0] == 1
    assert kept_keys(config_dir) == []
    # The user does not say which app it is (no answer, a wrong one): not converted, no key either.
    assert run_cli(["convert-app", str(app), str(tmp_path / "out"), "--yes"], capsys, monkeypatch)[0] == 0
    before = kept_keys(config_dir)
    other = write_app(tmp_path / "other", ["udp-bind"], body="// another app")
    for answer in ("", "no\n", "7\n"):
        code, _, err = run_cli(["convert-app", str(other), str(tmp_path / "out-other")], capsys, monkeypatch,
                               stdin=answer)
        assert code == 1 and "not converted: the answer did not say which app it is" in err, err
        assert kept_keys(config_dir) == before and not (tmp_path / "out-other").exists()


def test_a_key_of_the_older_per_name_store_is_never_taken_without_asking(
        tmp_path: Path, config_dir: Path, rsa_key: object, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from resocket.cli import appkeys

    legacy = appkeys.legacy_key_path("Hello World!")
    legacy.parent.mkdir(parents=True)
    crx.write_private_key(legacy, rsa_key)
    old_id = crx.extension_id(crx.public_key_der(rsa_key))
    app = write_app(tmp_path / "app", ["tcp-connect"])
    code, _, err = run_cli(["convert-app", str(app), str(tmp_path / "out"), "--yes"], capsys, monkeypatch)
    assert code == 1 and f"--key {legacy} (app 1)" in err and "a source resocket did not record" in err, err
    code, _, err = run_cli(["convert-app", str(app), str(tmp_path / "out"), "--yes", "--key", str(legacy)],
                           capsys, monkeypatch)
    assert (code, converted_id(tmp_path / "out")) == (0, old_id), err
    code, _, err = run_cli(["convert-app", str(app), str(tmp_path / "out"), "--yes"], capsys, monkeypatch)
    assert (code, converted_id(tmp_path / "out")) == (0, old_id), err  # --key taught the store this source
