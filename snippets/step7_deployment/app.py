"""A real service around the guide's model: generation (whole or streamed, micro-batched),
classification, a chat page, GraphQL beside REST, input limits, API keys, rate limits, timeouts,
metrics, health and readiness probes.

Run it: ``python snippets/step7_deployment/app.py`` (``--model NAME_OR_PATH``, ``--port 8000``;
set GUIDE_API_KEYS=key1,key2 to require a key). Then open http://127.0.0.1:8000 (the chat page)
or http://127.0.0.1:8000/docs (the OpenAPI docs).
"""

# --8<-- [start:imports]
import asyncio
import json
import logging
import os
import threading
import time
from collections import defaultdict, deque
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import strawberry
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIWebSocketRoute
from fastapi.security import APIKeyHeader
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import AfterValidator, BaseModel, Field, ValidationError
from starlette.responses import Response
from strawberry.extensions import DisableIntrospection, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.fastapi import GraphQLRouter

from guide import cli, set_threads
from guide.model import load_causal_lm
from guide.scoring import p_positive
from step3_pretraining.pretrain import guide_model
from step7_deployment.batching import Job, MicroBatcher
from step7_deployment.privacy import RedactingFormatter, redact
from step7_deployment.quantize import int8_dynamic

# --8<-- [end:imports]


# --8<-- [start:limits]
MAX_PROMPT_CHARS = 400  # the guide's model reads 128 tokens; longer prompts would be cut silently
MAX_NEW_TOKENS = 64
MAX_BODY_BYTES = 8192  # a 400-character prompt is at most 2.4 KB of JSON, even all \uXXXX escapes


def readable(text: str) -> str:
    """Text a tokenizer can read: valid Unicode (no lone surrogate such as "\\ud800"), not
    only spaces. Anything else is a 422 that says so, not a 500 inside the tokenizer."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (it holds a lone surrogate)") from None
    if not text.strip():
        raise ValueError("must contain some text, not only spaces")
    return text


Text = Annotated[str, AfterValidator(readable)]


class GenerateRequest(BaseModel):
    prompt: Text = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="text to continue")
    max_new_tokens: int = Field(32, ge=1, le=MAX_NEW_TOKENS, description=f"at most {MAX_NEW_TOKENS}")
    # allow_inf_nan=False: JSON parsers accept NaN and Infinity, and 1e309 overflows to infinity
    temperature: float = Field(0.0, ge=0.0, le=2.0, allow_inf_nan=False, description="0 means greedy (deterministic)")


class GenerateResponse(BaseModel):
    text: str
    tokens: int


class ClassifyRequest(BaseModel):
    text: Text = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="a story, without its last sentence")
    name: Text | None = Field(
        None, min_length=1, max_length=40, description="the person's first name (default: the story's first word)"
    )


class ClassifyResponse(BaseModel):
    label: str
    p_positive: float


KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="needed when the server has keys")


class Problem(BaseModel):
    detail: str


ERRORS = {
    code: {"model": Problem, "description": why}
    for code, why in [
        (401, "missing or wrong API key"),
        (413, f"the request body is over {MAX_BODY_BYTES} bytes"),
        (429, "rate limit; see Retry-After"),
        (503, "the model is still loading, or too many requests are waiting; see Retry-After"),
        (504, "the request timed out"),
    ]
}
# --8<-- [end:limits]


# --8<-- [start:guards]
def whom(keys, x_api_key, address, failures):
    """401 unless the X-API-Key header holds one of ``keys``. Returns whom the rate limit counts
    the call against: the key, or on an open server (no keys configured) the client's address,
    so that inventing keys cannot buy more calls. A wrong key counts against its address in
    ``failures``, a rate limiter of its own, so that guessing keys is throttled too: past that
    limit the address gets 429, while a right key from it is still served."""
    if not keys:
        return f"address {address}"
    if x_api_key not in keys:
        failures(f"address {address}")
        raise HTTPException(401, "missing or wrong API key: send it in the X-API-Key header")
    return x_api_key


class RateLimiter:
    """At most ``limit`` requests per ``window`` seconds per API key (a sliding window). Callers
    idle for a whole window are forgotten, so the table does not grow with every address seen."""

    def __init__(self, limit, window=60.0, what="requests"):
        self.limit, self.window, self.what = limit, window, what
        self.calls, self.lock, self.swept = defaultdict(deque), threading.Lock(), time.monotonic()

    def __call__(self, key):
        now = time.monotonic()
        with self.lock:
            if now - self.swept > self.window:  # at most once a window: drop the idle buckets
                self.calls = defaultdict(
                    deque, {k: c for k, c in self.calls.items() if c and c[-1] > now - self.window}
                )
                self.swept = now
            calls = self.calls[key]
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                retry = max(1, int(calls[0] + self.window - now) + 1)
                raise HTTPException(
                    429,
                    f"rate limit: {self.limit} {self.what} per {self.window:g} s; retry later",
                    headers={"Retry-After": str(retry)},
                )
            calls.append(now)
            # --8<-- [end:guards]


# --8<-- [start:body_limit]
class BodyLimit:
    """413 for a request body over ``limit`` bytes, before anything parses it: at once when its
    Content-Length says so, else as soon as the bytes streamed in pass the limit (a chunked body
    declares no length). The body, at most ``limit`` bytes, is then handed on to the app."""

    def __init__(self, app, limit=MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            return await self.refuse(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body, more = body + message.get("body", b""), message.get("more_body", False)
            if len(body) > self.limit:
                return await self.refuse(scope, receive, send)
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()  # after the body: the client's disconnect, for streams
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    async def refuse(self, scope, receive, send):
        detail = f"the request body is over {self.limit} bytes; send a shorter prompt"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
        # --8<-- [end:body_limit]


# --8<-- [start:observe]
def observability(app):
    """Prometheus metrics at /metrics and one JSON log line per request. The line holds the
    request's parsed text fields (what the routes put in ``request.state.logged``), each cut
    to 200 characters and then redacted; never the raw body. Returns the counters the routes
    feed."""
    registry = CollectorRegistry()
    requests = Counter("requests", "requests served", ["route", "status"], registry=registry)
    latency = Histogram("request_latency_seconds", "time to answer", ["route"], registry=registry)
    tokens = Counter("generated_tokens", "tokens generated", registry=registry)
    speed = Histogram(
        "generation_tokens_per_second",
        "tokens per second of each generation",
        registry=registry,
        buckets=(10, 25, 50, 100, 200, 400, 800, 1600),
    )
    first = Histogram("time_to_first_token_seconds", "streamed requests: wait for the first token", registry=registry)
    batch = Histogram("batch_size", "requests per generate() call", registry=registry, buckets=(1, 2, 4, 8, 16, 32))
    log = logging.getLogger("guide.service")

    @app.middleware("http")
    async def measure(request: Request, call_next):
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # a bug: counted and logged like any answer, and no traceback leaks
            log.exception(json.dumps({"event": "error", "route": request.url.path[:100]}))
            response = JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)
        seconds = time.perf_counter() - start
        route = request.url.path if request.scope.get("route") else "unmatched"  # no label per random URL
        requests.labels(route, str(response.status_code)).inc()
        latency.labels(route).observe(seconds)
        fields = getattr(request.state, "logged", {})
        entry = {"event": "request", "route": route, "status": response.status_code, "ms": round(1000 * seconds, 1)}
        log.info(json.dumps(entry | {name: redact(str(value)[:200]) for name, value in fields.items()}))
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics():
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    def generation(n_tokens, seconds):
        tokens.inc(n_tokens)
        speed.observe(n_tokens / max(seconds, 1e-6))

    return SimpleNamespace(generation=generation, first_token=first.observe, batch=batch.observe)
    # --8<-- [end:observe]


# --8<-- [start:graphql]
GRAPHQL_LIMITS = {"aliases": 4, "depth": 4, "tokens": 200}  # a query the guide's clients send has 1, 2 and ~20


def graphql_router(explorer=False):
    """GraphQL beside REST: the same two operations, the same limits, keys and rate limit.
    The key and the rate limit are checked once per HTTP request, before the query runs, with
    the same 401 and 429 as REST (the context getter is a FastAPI dependency). A query may not
    ask for more aliased fields, depth or tokens than GRAPHQL_LIMITS: one request must not
    become hundreds of generations. GraphiQL, introspection and GET queries are off unless
    ``explorer`` (--graphql-explorer) turns them on."""

    @strawberry.type
    class Generation:
        text: str
        tokens: int

    @strawberry.type
    class Classification:
        label: str
        p_positive: float

    def checked(schema, **fields):  # pydantic's limits, reported as a GraphQL error
        try:
            return schema(**fields)
        except ValidationError as err:
            raise ValueError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())) from None

    rest = GenerateRequest.model_fields  # the same defaults as the REST route

    @strawberry.type
    class Query:
        @strawberry.field(description="Continue a text (the REST route is POST /v1/generate).")
        async def generate(
            self,
            info: strawberry.Info,
            prompt: str,
            max_new_tokens: int = rest["max_new_tokens"].default,
            temperature: float = rest["temperature"].default,
        ) -> Generation:
            req = checked(GenerateRequest, prompt=prompt, max_new_tokens=max_new_tokens, temperature=temperature)
            info.context["request"].state.logged = {"prompt": req.prompt}
            return Generation(**(await info.context["service"].generate(req)).model_dump())

        @strawberry.field(description="P(good day) for a story (the REST route is POST /v1/classify).")
        async def classify(self, info: strawberry.Info, text: str, name: str | None = None) -> Classification:
            req = checked(ClassifyRequest, text=text, name=name)
            info.context["request"].state.logged = {"text": req.text}
            return Classification(**(await info.context["service"].classify(req)).model_dump())

    def context(service: Admitted):  # the REST routes' dependency: 401 or 429 before the query runs
        return {"service": service}

    limits = [  # factories: Strawberry makes a fresh extension for each request
        lambda: MaxAliasesLimiter(GRAPHQL_LIMITS["aliases"]),
        lambda: QueryDepthLimiter(GRAPHQL_LIMITS["depth"]),
        lambda: MaxTokensLimiter(GRAPHQL_LIMITS["tokens"]),
    ]
    schema = strawberry.Schema(query=Query, extensions=[*limits, *([] if explorer else [DisableIntrospection])])
    router = GraphQLRouter(
        schema,
        graphql_ide="graphiql" if explorer else None,
        allow_queries_via_get=explorer,
        context_getter=context,
        include_in_schema=False,
    )
    # no subscriptions here, so no WebSocket route (the key check reads an HTTP request)
    router.routes = [route for route in router.routes if not isinstance(route, APIWebSocketRoute)]
    return router
    # --8<-- [end:graphql]


# --8<-- [start:service]
@dataclass(frozen=True)
class Settings:
    """How the service runs: the command line's flags (``parse_args``) as one object."""

    model_name: str | None = None
    api_keys: frozenset = frozenset()
    rate_limit: int = 120
    redact_input: bool = False
    timeout: float = 10.0
    max_batch: int = 16
    max_wait: float = 0.01
    max_queue: int = 64  # generations waiting for the batcher; past it, new ones get 503 at once
    int8: bool = False
    graphql_explorer: bool = False
    failed_key_limit: int = 10  # wrong keys per minute per address before it gets 429


class Service:
    """What the routes share, kept on ``app.state.service``: the settings, the model once it has
    loaded (or why it could not), the micro-batcher, the rate limiter and the metrics."""

    def __init__(self, settings, metrics):
        self.settings, self.metrics, self.limiter = settings, metrics, RateLimiter(settings.rate_limit)
        self.failures = RateLimiter(settings.failed_key_limit, what="wrong keys")
        self.model = self.tokenizer = self.batcher = self.failed = None
        self.clean = redact if settings.redact_input else (lambda text: text)

    def load(self):
        """Load the model; the lifespan runs this in a thread, so /health answers meanwhile."""
        set_threads()
        try:
            tokenizer, model = load_causal_lm(self.settings.model_name or guide_model())
            model = int8_dynamic(model) if self.settings.int8 else model
        except Exception as err:  # say why on /health and /ready; the orchestrator restarts us
            self.failed = f"the model could not be loaded: {err}"[:500]
            logging.getLogger("guide.service").error(json.dumps({"event": "load failed", "detail": self.failed}))
            return
        s = self.settings
        self.batcher = MicroBatcher(model, tokenizer, s.max_batch, s.max_wait, on_batch=self.metrics.batch)
        self.tokenizer, self.model = tokenizer, model

    def encode(self, text, new_tokens):
        """Token ids of a prompt, or a 422 that says what to change."""
        if self.model is None:
            raise HTTPException(503, self.failed or "the model is still loading; poll /ready")
        ids = self.tokenizer(self.clean(text))["input_ids"]
        context = self.model.config.max_position_embeddings
        if not ids:
            raise HTTPException(422, "the prompt has no text the model can read")
        if len(ids) + new_tokens > context:
            raise HTTPException(
                422,
                f"the prompt is {len(ids)} tokens; with {new_tokens} new tokens that exceeds "
                f"the model's context of {context} tokens: shorten it or ask for fewer",
            )
        return ids

    def start(self, req, on_token):
        """Queue a generation for the batcher; ``on_token`` hears each token, then None. A full
        queue is a 503 at once (admission control): a request that would wait past its timeout
        is refused while the client can still go elsewhere, and memory stays bounded."""
        ids = self.encode(req.prompt, req.max_new_tokens)  # first: a 503 or 422 before anything is queued
        waiting = self.batcher.queue.qsize()
        if waiting >= self.settings.max_queue:
            raise HTTPException(
                503,
                f"the server is busy: {waiting} requests are waiting for the model; retry in a second",
                headers={"Retry-After": "1"},
            )
        return self.batcher.submit(Job(ids, req.max_new_tokens, req.temperature, on_token))

    async def generate(self, req: GenerateRequest) -> GenerateResponse:
        loop, finished, start = asyncio.get_running_loop(), asyncio.Event(), time.perf_counter()
        job = self.start(req, lambda token: token is None and loop.call_soon_threadsafe(finished.set))
        timeout = self.settings.timeout
        try:
            await asyncio.wait_for(finished.wait(), timeout)
        except TimeoutError:
            job.cancelled = True  # the batch drops it at the next token
            raise HTTPException(
                504, f"no answer within the server's {timeout:g} s timeout; ask for fewer tokens or retry later"
            ) from None
        if job.error:
            raise HTTPException(500, job.error)
        self.metrics.generation(len(job.tokens), time.perf_counter() - start)
        text = self.tokenizer.decode(job.tokens, skip_special_tokens=True)
        return GenerateResponse(text=text, tokens=len(job.tokens))

    async def classify(self, req: ClassifyRequest) -> ClassifyResponse:
        name = req.name or req.text.split()[0]
        self.encode(f"{req.text} {name} was upset.", 0)  # the longest text the classifier reads must fit
        work = run_in_threadpool(p_positive, self.model, self.tokenizer, self.clean(req.text), self.clean(name))
        try:
            p = await asyncio.wait_for(work, self.settings.timeout)
        except TimeoutError:
            raise HTTPException(504, f"no answer within the server's {self.settings.timeout:g} s timeout") from None
        return ClassifyResponse(label="good day" if p > 0.5 else "bad day", p_positive=round(p, 4))


def service_of(request: Request) -> Service:
    """The app's Service (a dependency): what the lifespan put on ``app.state``."""
    return request.app.state.service


def caller(
    request: Request,
    x_api_key: Annotated[str | None, Security(KEY_HEADER)],
    service: Annotated[Service, Depends(service_of)],
) -> Service:
    """The API key and the rate limit, as one dependency of every route that costs compute:
    401 without a valid key, 429 past the limit; otherwise the Service, to serve the call."""
    address = request.client.host if request.client else "unknown"
    service.limiter(whom(service.settings.api_keys, x_api_key, address, service.failures))
    return service


Served = Annotated[Service, Depends(service_of)]  # any route: the app's Service
Admitted = Annotated[Service, Depends(caller)]  # routes that cost compute: the key and the rate checked first
# --8<-- [end:service]


# --8<-- [start:routes]
probes = APIRouter(tags=["probes"])


@probes.get("/health")
def health(service: Served):
    """Liveness: the process is up (and its model has not failed to load)."""
    if service.failed:
        raise HTTPException(500, service.failed)
    return {"status": "ok"}


@probes.get("/ready")
def ready(service: Served):
    """Readiness: the model is loaded and requests will be served (and which model it is)."""
    if service.model is None:
        raise HTTPException(503, service.failed or "loading the model")
    return {
        "status": "ready",
        "model": str(service.settings.model_name or "the guide's model"),
        "int8": service.settings.int8,
    }


v1 = APIRouter(prefix="/v1", tags=["model"], responses=ERRORS)


@v1.post("/generate", response_model=GenerateResponse)
async def generate(req: GenerateRequest, service: Admitted, request: Request):
    """Continue a text. Temperature 0 (the default) is greedy: the same prompt, the same answer."""
    request.state.logged = {"prompt": req.prompt}
    return await service.generate(req)


@v1.post("/generate/stream")
async def generate_stream(req: GenerateRequest, service: Admitted, request: Request):
    """The same generation as server-sent events: one `data:` line per piece of text as the
    model produces it, then `event: done` (or `event: error` with the reason)."""
    request.state.logged = {"prompt": req.prompt}
    loop, tokens, start = asyncio.get_running_loop(), asyncio.Queue(), time.perf_counter()
    job = service.start(req, lambda token: loop.call_soon_threadsafe(tokens.put_nowait, token))
    decode, timeout = service.tokenizer.decode, service.settings.timeout

    async def events():
        sent, ids, done = "", [], False
        try:
            while not done:
                arrived = [await asyncio.wait_for(tokens.get(), timeout - (time.perf_counter() - start))]
                while not tokens.empty():  # under load, tokens pile up: send them as one event
                    arrived.append(tokens.get_nowait())
                done = None in arrived  # None: the job is over
                if not ids and arrived[0] is not None:
                    service.metrics.first_token(time.perf_counter() - start)
                ids += [t for t in arrived if t is not None]
                text = decode(ids, skip_special_tokens=True)
                if len(text) > len(sent) and text.startswith(sent) and (done or not text.endswith("\ufffd")):
                    yield f"data: {json.dumps({'text': text[len(sent) :]})}\n\n"  # only what is new
                    sent = text
            if job.error:
                yield f"event: error\ndata: {json.dumps({'detail': job.error})}\n\n"
            else:
                service.metrics.generation(len(ids), time.perf_counter() - start)
                yield f"event: done\ndata: {json.dumps({'tokens': len(ids)})}\n\n"
        except TimeoutError:
            yield f"event: error\ndata: {json.dumps({'detail': f'stopped by the {timeout:g} s timeout'})}\n\n"
        finally:
            job.cancelled = True  # a client that hung up stops costing compute

    return StreamingResponse(events(), media_type="text/event-stream")


@v1.post("/classify", response_model=ClassifyResponse)
async def classify(req: ClassifyRequest, service: Admitted, request: Request):
    """P(good day) for a story, from the language model itself (Step 6's zero-shot classifier)."""
    request.state.logged = {"text": req.text}
    return await service.classify(req)


pages = APIRouter(include_in_schema=False)


@pages.get("/")
def chat_page():
    """A small chat page that streams the answer (static/chat.html)."""
    return FileResponse(Path(__file__).with_name("static") / "chat.html")
    # --8<-- [end:routes]


# --8<-- [start:app]
@asynccontextmanager
async def lifespan(app: FastAPI):
    """Start loading the model when the server starts; the probes say when it is ready."""
    threading.Thread(target=app.state.service.load, daemon=True, name="load-model").start()
    yield


def create_app(settings: Settings = Settings()) -> FastAPI:
    """The FastAPI application: the routers, the metrics, one Service on ``app.state``."""
    app = FastAPI(title="LLM Mastery: the guide's model as a service", version="1.0", lifespan=lifespan)
    app.add_middleware(BodyLimit)  # added first, so it runs inside observability's middleware: 413s are logged
    app.state.service = Service(settings, observability(app))
    for router in (probes, v1, pages):
        app.include_router(router)
    app.include_router(graphql_router(settings.graphql_explorer), prefix="/graphql")

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError):
        """422 naming each field and what is wrong with it, never echoing the input: an echo
        returns a 20 MB body in full, and a NaN or a lone surrogate cannot be encoded as JSON."""
        problems = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in err.errors()]
        return JSONResponse(status_code=422, content={"detail": problems})

    return app
    # --8<-- [end:app]


def parse_args(argv=None):
    """The command line (also what the Dockerfile and the Kubernetes manifest pass)."""
    parser = cli.parser(__doc__, model=True)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to accept connections from other machines")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--rate-limit", type=int, default=120, help="requests per minute per API key")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a request may take before a 504")
    parser.add_argument("--max-batch", type=int, default=16, help="requests per generate() call (1: no batching)")
    parser.add_argument("--max-wait-ms", type=float, default=10.0, help="how long a batch waits to fill up")
    parser.add_argument(
        "--max-queue", type=int, default=64, help="generations that may wait for the model; past it, 503 at once"
    )
    parser.add_argument("--int8", action="store_true", help="serve the model with int8 dynamic quantisation")
    parser.add_argument("--redact-input", action="store_true", help="redact personal data before the model sees it")
    parser.add_argument(
        "--graphql-explorer", action="store_true", help="turn on GraphiQL, introspection and GET queries at /graphql"
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default="",
        help="comma-separated addresses of your reverse proxies, whose X-Forwarded-For names the client "
        "(default: none; every request is counted against the address it came from)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    if args.rate_limit < 1:
        parser.error("--rate-limit must be at least 1")
    if args.timeout <= 0 or args.max_batch < 1 or args.max_wait_ms < 0:
        parser.error("--timeout must be positive, --max-batch at least 1 and --max-wait-ms not negative")
    if args.max_queue < 1:
        parser.error("--max-queue must be at least 1")
    return args


def api_keys(value: str) -> frozenset:
    """GUIDE_API_KEYS, comma-separated; the spaces around a key are not part of it ("a, b")."""
    return frozenset(key.strip() for key in value.split(",") if key.strip())


@cli.command(cache=False)
def main(argv=None):
    args = parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter())  # every logger's records, uvicorn's and Strawberry's too
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    keys = api_keys(os.environ.get("GUIDE_API_KEYS", ""))
    settings = Settings(
        args.model,
        api_keys=keys,
        rate_limit=args.rate_limit,
        redact_input=args.redact_input,
        timeout=args.timeout,
        max_batch=args.max_batch,
        max_wait=args.max_wait_ms / 1000,
        max_queue=args.max_queue,
        int8=args.int8,
        graphql_explorer=args.graphql_explorer,
    )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level="warning",
        log_config=None,  # uvicorn's loggers reach the root handler above, through its formatter
        proxy_headers=bool(args.forwarded_allow_ips),
        forwarded_allow_ips=args.forwarded_allow_ips or None,
    )


if __name__ == "__main__":
    main()
