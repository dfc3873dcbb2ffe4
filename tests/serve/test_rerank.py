"""/v1/rerank served by zhiku, and the http rerank backend as its client, over real loopback HTTP."""
import pytest

from zhiku.loadtest.process import free_port
from zhiku.errors import BackendError
from zhiku.retrieve.rerankers.e5 import E5Reranker
from zhiku.retrieve.rerankers.http import HttpReranker

DOCS = ["夫妻双方自愿离婚的，应当签订书面离婚协议。", "劳动合同期限三个月以上不满一年的，试用期不得超过一个月。", "经营者提供商品有欺诈行为的，增加赔偿三倍。"]


def test_endpoint_shape_and_order(server):
    with server.client() as c:
        r = c.post("/v1/rerank", json={"query": "试用期多久", "documents": DOCS, "top_n": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["index"] for x in body["results"]][0] == 1 and len(body["results"]) == 2
    assert body["results"][0]["document"]["text"] == DOCS[1]


def test_http_backend_matches_the_local_reranker(server):
    remote = HttpReranker(server.base + "/v1", api_key=server.user_key).score("试用期多久", DOCS)
    local = E5Reranker().score("试用期多久", DOCS)
    assert remote == pytest.approx(local, abs=1e-5)


def test_bad_requests(server):
    with server.client() as c:
        assert c.post("/v1/rerank", json={"query": "q", "documents": []}).status_code == 422
        assert c.post("/v1/rerank", json={"documents": ["a"]}).status_code == 422
    with server.client(key=None) as c:
        assert c.post("/v1/rerank", json={"query": "q", "documents": ["a"]}).status_code == 401


def test_http_backend_errors_are_backend_errors(server):
    with pytest.raises(BackendError, match="HTTP 401"):
        HttpReranker(server.base + "/v1", api_key="wrong").score("q", ["a"])
    with pytest.raises(BackendError, match="ConnectError"):
        HttpReranker(f"http://127.0.0.1:{free_port()}/v1", timeout=2).score("q", ["a"])


def test_http_backend_rejects_a_foreign_response_shape():
    """A third-party endpoint answering in another shape (here an embeddings-like body) is a clear error."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Wrong(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.dumps({"data": [{"embedding": [0.1]}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Wrong)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(BackendError, match="unexpected response shape"):
            HttpReranker(f"http://127.0.0.1:{srv.server_port}/v1", timeout=5).score("q", ["a"])
    finally:
        srv.shutdown()
