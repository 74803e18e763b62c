"""The clerk API over HTTP: every route refuses anonymous callers, CSRF, uploads (empty, too
large, not audio, cut off and resumed), jobs (cancel, retry), minutes versions (conflicts,
finalize), exports and the audio with Range."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from docx import Document
from fastapi.testclient import TestClient

from tests.adapters.clerk.conftest import PASSWORD, login, tone_wav

PUBLIC = {"/clerk/login", "/api/clerk/login"}


def clerk_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, path) of every route under /clerk/ and /api/clerk/, from the route table."""
    found = []
    for route in app.routes:
        contexts = (
            route.effective_route_contexts() if hasattr(route, "effective_route_contexts")
            else [route]
        )
        for ctx in contexts:
            path = getattr(ctx, "path", "")
            if path.startswith(("/clerk", "/api/clerk")):
                for method in sorted(getattr(ctx, "methods", None) or {"GET"}):
                    if method != "HEAD":
                        found.append((method, path))
    return found


def test_every_clerk_route_refuses_anonymous_callers(client: TestClient) -> None:
    routes = clerk_routes(client.app)
    assert len(routes) >= 20, routes  # the table really was read
    for method, path in routes:
        if path in PUBLIC:
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        r = client.request(method, url, follow_redirects=False)
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path, r.status_code, r.text)
        else:
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/clerk/login?next=")


def test_login_page_is_public_and_has_a_strict_csp(client: TestClient) -> None:
    r = client.get("/clerk/login")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in r.text  # no inline script: only <script src=…>


def test_wrong_password_and_unknown_user_are_refused(client: TestClient) -> None:
    for name, pw in (("suzuki", "wrong password"), ("nobody", PASSWORD)):
        r = client.post("/api/clerk/login", json={"name": name, "password": pw})
        assert r.status_code == 401 and "wrong user name or password" in r.json()["detail"]
    assert client.post("/api/clerk/login", json={"name": "", "password": ""}).status_code == 422


def test_session_cookie_flags_and_csrf(client: TestClient) -> None:
    r = client.post("/api/clerk/login", json={"name": "suzuki", "password": PASSWORD})
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("madoguchi_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    csrf = r.json()["csrf"]
    body = {"filename": "a.wav", "size": 10}
    assert client.post("/api/clerk/uploads", json=body).status_code == 403
    bad = {"X-CSRF-Token": "forged"}
    assert client.post("/api/clerk/uploads", json=body, headers=bad).status_code == 403
    ok = client.post("/api/clerk/uploads", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert client.get("/api/clerk/me").json()["user"] == {"name": "suzuki", "role": "clerk"}
    assert client.post("/api/clerk/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    client.cookies.set("madoguchi_session", r.cookies["madoguchi_session"])
    assert client.get("/api/clerk/me").status_code == 401  # ended on the server


def test_only_admins_list_users(client: TestClient) -> None:
    login(client, "suzuki")
    assert client.get("/api/clerk/users").status_code == 403
    login(client, "admin")
    names = {u["name"] for u in client.get("/api/clerk/users").json()}
    assert {"suzuki", "admin"} <= names


def _upload(client: TestClient, h: dict[str, str], data: bytes, name: str = "kaigi.wav") -> str:
    r = client.post("/api/clerk/uploads", json={"filename": name, "size": len(data)}, headers=h)
    assert r.status_code == 201, r.text
    up = r.json()
    step = up["chunk_bytes"]
    for offset in range(0, len(data), step):
        r = client.put(f"/api/clerk/uploads/{up['id']}?offset={offset}",
                       content=data[offset : offset + step], headers=h)
        assert r.status_code == 200, r.text
    return str(up["id"])


def test_empty_too_large_and_not_audio_uploads_are_refused(client: TestClient, tmp_path: Path) -> None:
    h = login(client)
    r = client.post("/api/clerk/uploads", json={"filename": "x.wav", "size": 0}, headers=h)
    assert r.status_code == 400 and "empty (0 bytes)" in r.json()["detail"]
    r = client.post("/api/clerk/uploads", json={"filename": "x.wav", "size": 3_000_000}, headers=h)
    assert r.status_code == 413 and "limit is 2000000 bytes" in r.json()["detail"]
    text = "これは音声ではありません。\n".encode() * 50
    r = client.post("/api/clerk/uploads", json={"filename": "memo.wav", "size": len(text)},
                    headers=h)
    r = client.put(f"/api/clerk/uploads/{r.json()['id']}?offset=0", content=text, headers=h)
    assert r.status_code == 415 and "not a recording we can read" in r.json()["detail"]
    # A large wrong file is refused after its first chunk, not after all of it.
    text = "議事録メモ\n".encode() * 60_000
    r = client.post("/api/clerk/uploads", json={"filename": "memo.mp3", "size": len(text)},
                    headers=h)
    r = client.put(f"/api/clerk/uploads/{r.json()['id']}?offset=0", content=text[:200_000],
                   headers=h)
    assert r.status_code == 415 and "memo.mp3" in r.json()["detail"]
    # A chunk larger than the per-request limit is refused while it streams in.
    big = client.put("/api/clerk/uploads/x?offset=0", content=b"0" * 300_000, headers=h)
    assert big.status_code == 413


def test_upload_cut_off_halfway_resumes_at_the_servers_offset(client: TestClient, tmp_path: Path) -> None:
    h = login(client)
    data = tone_wav(tmp_path / "t.wav", 0.5).read_bytes()
    up = client.post("/api/clerk/uploads", json={"filename": "t.wav", "size": len(data)},
                     headers=h).json()
    half = len(data) // 2
    assert client.put(f"/api/clerk/uploads/{up['id']}?offset=0", content=data[:half],
                      headers=h).json()["offset"] == half
    # The client lost track (connection dropped): the server says where to go on.
    r = client.put(f"/api/clerk/uploads/{up['id']}?offset=0", content=data, headers=h)
    assert r.status_code == 409 and r.json()["offset"] == half
    assert client.get(f"/api/clerk/uploads/{up['id']}").json()["offset"] == half
    r = client.put(f"/api/clerk/uploads/{up['id']}?offset={half}", content=data[half:] + b"xx",
                   headers=h)
    assert r.status_code == 413  # past the declared size: nothing kept
    r = client.put(f"/api/clerk/uploads/{up['id']}?offset={half}", content=data[half:], headers=h)
    assert r.status_code == 200 and r.json()["complete"] is True
    assert r.json()["duration"] == pytest.approx(0.5, abs=0.05)
    assert client.get(f"/api/clerk/uploads/{up['id']}").json()["status"] == "complete"
    login(client, "admin")  # another user's upload is not theirs to see or continue
    assert client.get(f"/api/clerk/uploads/{up['id']}").status_code == 404


def test_job_queue_cancel_retry(client: TestClient, tmp_path: Path) -> None:
    h = login(client)
    r = client.post("/api/clerk/uploads", json={"filename": "p.wav", "size": 100}, headers=h)
    r = client.post("/api/clerk/jobs", json={"upload_id": r.json()["id"]}, headers=h)
    assert r.status_code == 409 and "finish it first" in r.json()["detail"]
    upload_id = _upload(client, h, tone_wav(tmp_path / "teireikai.wav", 0.3).read_bytes(),
                        "teireikai.wav")
    job = client.post("/api/clerk/jobs", json={"upload_id": upload_id}, headers=h).json()
    assert job["status"] == "queued" and job["title"] == "teireikai"
    assert any(j["id"] == job["id"] for j in client.get("/api/clerk/jobs").json())
    jid = job["id"]
    assert client.post(f"/api/clerk/jobs/{jid}/retry", headers=h).status_code == 409
    assert client.post(f"/api/clerk/jobs/{jid}/cancel", headers=h).json()["status"] == "cancelled"
    assert client.post(f"/api/clerk/jobs/{jid}/cancel", headers=h).status_code == 409
    assert client.post(f"/api/clerk/jobs/{jid}/retry", headers=h).json()["status"] == "queued"
    assert client.post("/api/clerk/jobs/99999/cancel", headers=h).status_code == 404
    assert client.post("/api/clerk/jobs", json={"upload_id": "nope"}, headers=h).status_code == 404
    client.post(f"/api/clerk/jobs/{jid}/cancel", headers=h)
    with client.stream("GET", f"/api/clerk/jobs/{jid}/events") as s:
        text = "".join(s.iter_text())
    assert "event: progress" in text and "event: end" in text and '"cancelled"' in text


DOC = {
    "meeting": {"title": "定例会", "attendees": []},
    "speakers": [{"id": "A", "name": None, "role": "議長"}, {"id": "B", "name": None, "role": None}],
    "segments": [
        {"start": 0.0, "end": 2.0, "speaker": "A", "text": "開会します。",
         "text_verbatim": "えー開会します。",
         "words": [{"start": 0.0, "end": 1.0, "word": "えー開会", "probability": 0.3},
                   {"start": 1.0, "end": 2.0, "word": "します。", "probability": 0.9}]},
        {"start": 2.0, "end": 4.0, "speaker": "B", "text": "質問します。", "words": []},
    ],
}


@pytest.fixture
def minutes_id(client: TestClient, tmp_path: Path) -> int:
    h = login(client)
    upload_id = _upload(client, h, tone_wav(tmp_path / "m.wav", 0.5).read_bytes(), "m.wav")
    job = client.post("/api/clerk/jobs", json={"upload_id": upload_id}, headers=h).json()
    store = client.app.state.clerk_store  # type: ignore[attr-defined]
    store.save_version(job["id"], None, DOC, "worker")
    store.update_job(job["id"], status="done")
    return int(job["id"])


def test_two_clerks_editing_the_same_minutes_conflict_and_nothing_is_lost(
    client: TestClient, minutes_id: int
) -> None:
    h = login(client)
    m = client.get(f"/api/clerk/minutes/{minutes_id}").json()
    assert m["version"] == 1 and m["doc"]["segments"][0]["text"] == "開会します。"
    mine = m["doc"] | {"speakers": [{"id": "A", "name": "山田太郎", "role": "議長"}, DOC["speakers"][1]]}
    r = client.put(f"/api/clerk/minutes/{minutes_id}", json={"base_version": 1, "doc": mine},
                   headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2
    theirs = m["doc"] | {"segments": [m["doc"]["segments"][0] | {"text": "開会いたします。"},
                                      m["doc"]["segments"][1]]}
    r = client.put(f"/api/clerk/minutes/{minutes_id}", json={"base_version": 1, "doc": theirs},
                   headers=h)
    assert r.status_code == 409
    assert r.json()["current"]["version"] == 2
    assert r.json()["current"]["doc"]["speakers"][0]["name"] == "山田太郎"
    versions = client.get(f"/api/clerk/minutes/{minutes_id}/versions").json()
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["author"] == "suzuki"
    old = client.get(f"/api/clerk/minutes/{minutes_id}/versions/1").json()
    assert old["doc"]["speakers"][0]["name"] is None
    assert client.get(f"/api/clerk/minutes/{minutes_id}/versions/9").status_code == 404


def test_bad_minutes_documents_are_refused(client: TestClient, minutes_id: int) -> None:
    h = login(client)
    bad = DOC | {"segments": [DOC["segments"][0] | {"speaker": "Z"}]}
    r = client.put(f"/api/clerk/minutes/{minutes_id}", json={"base_version": 1, "doc": bad},
                   headers=h)
    assert r.status_code == 400 and "'Z'" in r.json()["detail"]
    r = client.put(f"/api/clerk/minutes/{minutes_id}", json={"base_version": 1, "doc": {}},
                   headers=h)
    assert r.status_code == 400 and "export schema" in r.json()["detail"]
    r = client.put(f"/api/clerk/minutes/{minutes_id}", json={"doc": DOC}, headers=h)
    assert r.status_code == 422


def test_exports_from_the_current_version_and_finalize(client: TestClient, minutes_id: int) -> None:
    h = login(client)
    named = DOC | {"speakers": [{"id": "A", "name": "山田太郎", "role": "議長"}, DOC["speakers"][1]]}
    client.put(f"/api/clerk/minutes/{minutes_id}", json={"base_version": 1, "doc": named}, headers=h)
    for fmt in ("docx", "txt", "transcript", "srt", "vtt", "json"):
        r = client.get(f"/api/clerk/minutes/{minutes_id}/export/{fmt}")
        assert r.status_code == 200, (fmt, r.text)
        assert "attachment" in r.headers["content-disposition"]
    doc = Document(io.BytesIO(client.get(f"/api/clerk/minutes/{minutes_id}/export/docx").content))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "山田太郎" in text and "開会します。" in text
    assert "WEBVTT" in client.get(f"/api/clerk/minutes/{minutes_id}/export/vtt").text
    v1 = client.get(f"/api/clerk/minutes/{minutes_id}/export/txt?version=1").text
    assert "山田太郎" not in v1
    assert client.get(f"/api/clerk/minutes/{minutes_id}/export/pdf").status_code == 404
    r = client.post(f"/api/clerk/minutes/{minutes_id}/finalize", json={"version": 1}, headers=h)
    assert r.status_code == 409  # not the current version
    r = client.post(f"/api/clerk/minutes/{minutes_id}/finalize", json={"version": 2}, headers=h)
    assert r.status_code == 200 and r.json() == {"version": 3, "final": True, "remembered": []}
    assert client.get(f"/api/clerk/minutes/{minutes_id}").json()["final"] is True
    r = client.put(f"/api/clerk/minutes/{minutes_id}", json={"base_version": 3, "doc": DOC},
                   headers=h)
    assert r.status_code == 409 and "finalized" in r.json()["detail"]


def test_audio_is_served_with_range_support(client: TestClient, minutes_id: int) -> None:
    login(client)
    r = client.get(f"/api/clerk/minutes/{minutes_id}/audio", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100
    assert r.headers["content-range"].startswith("bytes 0-99/")
    assert client.get("/api/clerk/minutes/424242/audio").status_code == 404


def test_pages_are_served_to_a_logged_in_clerk(client: TestClient, minutes_id: int) -> None:
    login(client)
    for path in ("/clerk/", f"/clerk/minutes/{minutes_id}"):
        r = client.get(path)
        assert r.status_code == 200 and "default-src 'none'" in r.headers["content-security-policy"]


def test_password_guessing_is_throttled_per_name(client: TestClient) -> None:
    client.app.state.clerk_store.add_user("sato", PASSWORD, "clerk")  # type: ignore[attr-defined]
    for _ in range(5):
        r = client.post("/api/clerk/login", json={"name": "sato", "password": "guess 1234"})
        assert r.status_code == 401
    r = client.post("/api/clerk/login", json={"name": "sato", "password": PASSWORD})
    assert r.status_code == 429 and "too many failed logins" in r.json()["detail"]
    login(client, "suzuki")  # other names are not affected


def test_the_job_list_stream_sends_every_job(client: TestClient, minutes_id: int) -> None:
    login(client)
    with client.stream("GET", "/api/clerk/events") as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        for line in s.iter_lines():
            if line.startswith("data:") and f'"id": {minutes_id},' in line:
                assert '"status": "done"' in line
                break
