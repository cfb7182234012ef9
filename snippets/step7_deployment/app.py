"""A real service around the guide's model: generation (whole or streamed), classification,
input limits, API keys, rate limits, health and readiness probes.

Run it: ``python snippets/step7_deployment/app.py`` (``--model NAME_OR_PATH``, ``--port 8000``;
set GUIDE_API_KEYS=key1,key2 to require a key). Then open http://127.0.0.1:8000/docs.
"""

import argparse
import json
import os
import threading
import time
from collections import defaultdict, deque

# --8<-- [start:limits]
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

MAX_PROMPT_CHARS = 400  # the guide's model reads 128 tokens; longer prompts would be cut silently
MAX_NEW_TOKENS = 64


class GenerateRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="text to continue")
    max_new_tokens: int = Field(32, ge=1, le=MAX_NEW_TOKENS, description=f"at most {MAX_NEW_TOKENS}")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 means greedy (deterministic)")


class GenerateResponse(BaseModel):
    text: str
    tokens: int


class ClassifyRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="a story, without its last sentence")
    name: str | None = Field(
        None, min_length=1, max_length=40, description="the person's first name (default: the story's first word)"
    )


class ClassifyResponse(BaseModel):
    label: str
    p_positive: float
    # --8<-- [end:limits]


# --8<-- [start:guards]
def api_key_guard(keys):
    """401 unless the X-API-Key header holds one of ``keys`` (no keys configured: open)."""

    def check(x_api_key: str | None = Header(default=None)):
        if keys and x_api_key not in keys:
            raise HTTPException(401, "missing or wrong API key: send it in the X-API-Key header")
        return x_api_key or "anonymous"

    return check


class RateLimiter:
    """At most ``limit`` requests per ``window`` seconds per API key (a sliding window)."""

    def __init__(self, limit, window=60.0):
        self.limit, self.window, self.calls, self.lock = limit, window, defaultdict(deque), threading.Lock()

    def __call__(self, key):
        now = time.monotonic()
        with self.lock:
            calls = self.calls[key]
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                retry = max(1, int(calls[0] + self.window - now) + 1)
                raise HTTPException(429, f"rate limit: {self.limit} requests per {self.window:g} s; retry later",
                                    headers={"Retry-After": str(retry)})  # fmt: skip
            calls.append(now)
            # --8<-- [end:guards]


# --8<-- [start:observe]
def observability(app):
    """Prometheus metrics at /metrics and one JSON log line per request, with personal data
    redacted from anything that came from the user."""
    import logging

    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from starlette.responses import Response

    from step7_deployment.privacy import redact

    registry = CollectorRegistry()
    requests = Counter("requests", "requests served", ["route", "status"], registry=registry)
    latency = Histogram("request_latency_seconds", "time to answer", ["route"], registry=registry)
    tokens = Counter("generated_tokens", "tokens generated", registry=registry)
    speed = Histogram("generation_tokens_per_second", "tokens per second of each generation", registry=registry,
                      buckets=(10, 25, 50, 100, 200, 400, 800, 1600))  # fmt: skip
    log = logging.getLogger("guide.service")

    @app.middleware("http")
    async def measure(request: Request, call_next):
        start = time.perf_counter()
        body = (await request.body()).decode("utf-8", "replace")
        response = await call_next(request)
        seconds = time.perf_counter() - start
        route = request.url.path
        requests.labels(route, str(response.status_code)).inc()
        latency.labels(route).observe(seconds)
        log.info(json.dumps({"event": "request", "route": route, "status": response.status_code,
                             "ms": round(1000 * seconds, 1), "body": redact(body)[:300]}))  # fmt: skip
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics():
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    def count_generation(n_tokens, seconds):
        tokens.inc(n_tokens)
        speed.observe(n_tokens / max(seconds, 1e-6))

    return count_generation
    # --8<-- [end:observe]


def create_app(model_name=None, api_keys=(), rate_limit=120, redact_input=False):
    """The FastAPI application. The model loads in a background thread, so the process answers
    /health at once and /ready only when it can serve."""
    import torch

    from step7_deployment.privacy import redact

    app = FastAPI(title="LLM Mastery: the guide's model as a service", version="1.0")
    count_generation = observability(app)
    clean = redact if redact_input else (lambda text: text)
    state = {"model": None, "tokenizer": None, "lock": threading.Lock()}
    key_of = api_key_guard(set(api_keys))
    limiter = RateLimiter(rate_limit)

    def guarded(key: str = Depends(key_of)):
        limiter(key)
        return key

    def load():
        from guide.model import load_causal_lm

        torch.set_num_threads(min(2, torch.get_num_threads()))
        state["tokenizer"], state["model"] = load_causal_lm(model_name)

    threading.Thread(target=load, daemon=True).start()

    def ready_model():
        if state["model"] is None:
            raise HTTPException(503, "the model is still loading; poll /ready")
        return state["model"], state["tokenizer"]

    # --8<-- [start:routes]
    @app.get("/health")
    def health():
        """Liveness: the process is up."""
        return {"status": "ok"}

    @app.get("/ready")
    def ready():
        """Readiness: the model is loaded and requests will be served."""
        if state["model"] is None:
            raise HTTPException(503, "loading the model")
        return {"status": "ready"}

    @app.post("/v1/generate", response_model=GenerateResponse)
    def generate(req: GenerateRequest, _: str = Depends(guarded)):
        model, tokenizer = ready_model()
        ids = tokenizer(clean(req.prompt), return_tensors="pt")["input_ids"]
        start = time.perf_counter()
        sampling = dict(do_sample=True, temperature=req.temperature) if req.temperature > 0 else dict(do_sample=False)
        with state["lock"], torch.no_grad():  # one generation at a time on this worker
            out = model.generate(ids, max_new_tokens=req.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id, **sampling)  # fmt: skip
        new = out[0, ids.shape[1] :]
        count_generation(len(new), time.perf_counter() - start)
        return GenerateResponse(text=tokenizer.decode(new, skip_special_tokens=True), tokens=len(new))

    @app.post("/v1/generate/stream")
    def generate_stream(req: GenerateRequest, _: str = Depends(guarded)):
        """The same generation as server-sent events: one `data:` line per piece of text as the
        model produces it, then `event: done`."""
        from transformers import TextIteratorStreamer

        model, tokenizer = ready_model()
        ids = tokenizer(clean(req.prompt), return_tensors="pt")["input_ids"]
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = dict(do_sample=True, temperature=req.temperature) if req.temperature > 0 else dict(do_sample=False)

        def work():
            with state["lock"], torch.no_grad():
                model.generate(ids, max_new_tokens=req.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                               eos_token_id=tokenizer.eos_token_id, streamer=streamer, **sampling)  # fmt: skip

        threading.Thread(target=work, daemon=True).start()

        def events():
            for piece in streamer:
                if piece:
                    yield f"data: {json.dumps({'text': piece})}\n\n"
            yield "event: done\ndata: {}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/classify", response_model=ClassifyResponse)
    def classify(req: ClassifyRequest, _: str = Depends(guarded)):
        from step6_evaluation.metrics import p_positive

        model, tokenizer = ready_model()
        with state["lock"]:
            p = p_positive(model, tokenizer, clean(req.text), req.name or req.text.split()[0])
        return ClassifyResponse(label="good day" if p > 0.5 else "bad day", p_positive=round(p, 4))
        # --8<-- [end:routes]

    @app.exception_handler(Exception)
    async def crash(_: Request, err: Exception):  # nothing takes the worker down; no traceback leaks
        from fastapi.responses import JSONResponse

        return JSONResponse(status_code=500, content={"detail": f"internal error ({type(err).__name__})"})

    return app


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a Hugging Face id or local folder (default: the guide's model)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--rate-limit", type=int, default=120, help="requests per minute per API key")
    parser.add_argument("--redact-input", action="store_true", help="redact personal data before the model sees it")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    if args.rate_limit < 1:
        parser.error("--rate-limit must be at least 1")

    import logging

    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the JSON lines, one per request
    keys = [k for k in os.environ.get("GUIDE_API_KEYS", "").split(",") if k]
    app = create_app(args.model, api_keys=keys, rate_limit=args.rate_limit, redact_input=args.redact_input)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
