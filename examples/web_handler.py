"""Sessions in a web handler: each request runs in its own session, concurrent requests never mix.

A small threaded HTTP server (standard library only) answers `GET /ask?user=...&conversation=...&q=...`; each
request opens a session from its parameters and calls a shared, wrapped OpenAI client. The script starts the
server, sends two concurrent requests and stops. In a real app the same three lines go in your FastAPI, Flask or
Django view.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openai import OpenAI

import fallom_otel

fallom_otel.init()
client = OpenAI()  # one client for the whole app, shared by every request


class AskHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        session = fallom_otel.session(
            config_key="web-assistant", session_id=query["conversation"], customer_id=query["user"]
        )
        answer = session.wrap_openai(client).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": query["q"]}]
        )
        body = json.dumps({"answer": answer.choices[0].message.content}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep the example's output short
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), AskHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{server.server_address[1]}/ask"


def ask(user: str, conversation: str, question: str) -> str:
    url = base + "?" + urllib.parse.urlencode({"user": user, "conversation": conversation, "q": question})
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(json.load(response)["answer"])


with ThreadPoolExecutor(max_workers=2) as pool:
    answers = list(pool.map(ask, ["alice", "bob"], ["conv-a", "conv-b"], ["Hi, I'm Alice.", "Hi, I'm Bob."]))
for answer in answers:
    print(answer[:80])

server.shutdown()
fallom_otel.flush()
