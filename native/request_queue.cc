#include "request_queue.h"

#include "class_guard.h"
#include "httpapi.h"
#include "js_values.h"

#include <chrono>

namespace hsys {

namespace {

constexpr ULONG kMaxRequestBuffer = 64u * 1024u * 1024u;
constexpr double kMaxReadBytes = 64.0 * 1024 * 1024;
constexpr int kMaxReceiveFailures = 64;

VOID CALLBACK IoCallback(PTP_CALLBACK_INSTANCE, PVOID context, PVOID overlapped, ULONG result,
                         ULONG_PTR bytes, PTP_IO) {
  if (overlapped == nullptr) return;
  auto* core = static_cast<QueueCore*>(context);
  Op* op = CONTAINING_RECORD(static_cast<OVERLAPPED*>(overlapped), Op, ov);
  core->OnIoComplete(op, result, bytes);  // noexcept: nothing may unwind into the thread pool
}

void CallJs(napi_env env, napi_value, void* context, void*) {
  auto* core = static_cast<QueueCore*>(context);
  if (env == nullptr || core == nullptr || core->finalized) return;
  try {
    core->Drain(env);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  } catch (...) {
    napi_throw_error(env, nullptr, "httpsys: unexpected failure while delivering completions");
  }
}

void TsfnFinalized(napi_env, void* data, void*) {
  auto* core = static_cast<QueueCore*>(data);
  {
    std::lock_guard<std::mutex> lock(core->mu);
    core->tsfn = nullptr;
  }
  if (core->wrapperGone && !core->leaked) delete core;
}

void EnvCleanup(void* arg) {
  auto* core = static_cast<QueueCore*>(arg);
  core->hookAdded = false;
  core->ShutdownBlocking();
}

// A send on request `id` whose body views stay referenced until the op settles.
std::unique_ptr<Op> NewSendOp(napi_env env, OpKind kind, HTTP_OPAQUE_ID id, const std::vector<Napi::Value>& views) {
  auto op = std::make_unique<Op>();
  op->kind = kind;
  op->targetId = id;
  op->keepAlive.reserve(views.size());
  for (const auto& v : views) {
    napi_ref ref;
    if (napi_create_reference(env, v, 1, &ref) != napi_ok) {
      for (napi_ref r : op->keepAlive) napi_delete_reference(env, r);
      throw Napi::Error::New(Napi::Env(env));
    }
    op->keepAlive.push_back(ref);
  }
  return op;
}

void AllocateReceiveBuffer(Op* op, ULONG size) {
  ULONG words = (size + 7) / 8;
  op->buffer.reset(new uint64_t[words]);
  op->bufferSize = words * 8;
}

}  // namespace

QueueCore::~QueueCore() {
  if (handle != nullptr) Api().CloseRequestQueue(handle);
}

// ---------------------------------------------------------------------------
// Pool-thread side

void QueueCore::Signal() {
  napi_threadsafe_function t;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (envGone) return;  // the environment is being torn down: JavaScript is out of reach
    t = tsfn;
  }
  if (t != nullptr) napi_call_threadsafe_function(t, nullptr, napi_tsfn_nonblocking);
}

void QueueCore::Push(Completion c, bool countedOp) noexcept {
  bool signal;
  {
    std::lock_guard<std::mutex> lock(mu);
    signal = completed.empty();
    completed.push_back(std::move(c));
    if (countedOp) {
      --outstanding;
      if (closing && outstanding == 0) signal = true;
    }
  }
  cv.notify_all();
  if (signal) Signal();
}

bool QueueCore::CompletionWillFollow(ULONG rc) const {
  if (rc == ERROR_IO_PENDING) return true;
  // Success and ERROR_MORE_DATA (a warning status) queue a completion packet
  // unless FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set on the handle.
  return !skipOnSuccess && (rc == NO_ERROR || rc == ERROR_MORE_DATA);
}

void QueueCore::Retire(Op* op) noexcept {
  bool signal;
  {
    std::lock_guard<std::mutex> lock(mu);
    --outstanding;
    signal = closing && outstanding == 0;
  }
  cv.notify_all();
  delete op;
  if (signal) Signal();
}

void QueueCore::PostReceive(Op* op) noexcept {
  for (;;) {
    ULONG rc;
    ULONG got = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (closing) break;
      op->ov = OVERLAPPED{};
      StartThreadpoolIo(io);
      rc = Api().ReceiveHttpRequest(handle, op->retryId, kReceiveCopyBody,
                                    reinterpret_cast<PHTTP_REQUEST>(op->buffer.get()), op->bufferSize, &got,
                                    &op->ov);
      if (CompletionWillFollow(rc)) return;
      CancelThreadpoolIo(io);
    }
    // Finished synchronously (or failed): handled like a completion, then the loop receives again.
    if (!HandleReceive(op, rc, got)) return;
  }
  Retire(op);
}

bool QueueCore::HandleReceive(Op* op, ULONG result, ULONG_PTR bytes) noexcept {
  bool isClosing;
  {
    std::lock_guard<std::mutex> lock(mu);
    isClosing = closing;
  }
  if (!isClosing) {
    if (result == NO_ERROR) {
      try {
        auto parsed = std::make_unique<ParsedRequest>();
        ReadRequest(reinterpret_cast<const HTTP_REQUEST_V2*>(op->buffer.get()), *parsed);
        bool signal;
        {
          std::lock_guard<std::mutex> lock(mu);
          signal = completed.empty();
          completed.push_back(Completion{std::move(parsed), nullptr});
        }
        if (signal) Signal();
      } catch (...) {
        // Out of memory while copying the request: it is dropped (Http.sys resets it when the queue closes).
      }
      op->retryId = 0;
      op->failures = 0;
      try {
        if (op->bufferSize != initialBufferSize) AllocateReceiveBuffer(op, initialBufferSize);
      } catch (...) {
        // keep the larger buffer
      }
      return true;
    }
    if (result == ERROR_MORE_DATA) {
      // Headers larger than the buffer: receive this request id again with the size Http.sys asked for.
      op->retryId = reinterpret_cast<const HTTP_REQUEST_V2*>(op->buffer.get())->RequestId;
      ULONG need = bytes > op->bufferSize ? static_cast<ULONG>(bytes) : op->bufferSize * 2;
      if (need <= kMaxRequestBuffer) {
        try {
          AllocateReceiveBuffer(op, need);
          return true;
        } catch (...) {
        }
      }
      op->retryId = 0;
    }
    if ((result == ERROR_CONNECTION_INVALID || result == ERROR_INVALID_PARAMETER) && op->retryId != 0) {
      // The client left between the two calls: receive the next request instead.
      op->retryId = 0;
      return true;
    }
    if (result != ERROR_OPERATION_ABORTED && result != ERROR_INVALID_HANDLE && ++op->failures < kMaxReceiveFailures) {
      op->retryId = 0;
      return true;
    }
  }
  Retire(op);
  return false;
}

void QueueCore::OnIoComplete(Op* op, ULONG result, ULONG_PTR bytes) noexcept {
  if (op->kind != OpKind::Receive) {
    op->error = result;
    op->bytes = static_cast<ULONG>(bytes);
    Push(Completion{nullptr, std::unique_ptr<Op>(op)}, true);
    return;
  }
  if (HandleReceive(op, result, bytes)) PostReceive(op);
}

// ---------------------------------------------------------------------------
// JavaScript-thread side

void QueueCore::EnsureIo(napi_value wrapper) {
  if (self == nullptr) {
    // While the handle is bound to the thread pool the wrapper stays reachable; Finalize lets it go.
    napi_create_reference(env, wrapper, 1, &self);
  }
  if (io == nullptr) {
    io = CreateThreadpoolIo(handle, IoCallback, this, nullptr);
    if (io == nullptr) ThrowWin32(Napi::Env(env), "CreateThreadpoolIo", GetLastError());
  }
  if (tsfn == nullptr) {
    napi_value name;
    napi_create_string_utf8(env, "httpsys.RequestQueue", NAPI_AUTO_LENGTH, &name);
    napi_status s = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, this, TsfnFinalized, this,
                                                    CallJs, &tsfn);
    if (s != napi_ok) throw Napi::Error::New(Napi::Env(env), "could not create the thread-safe function");
    tsfnRefed = true;
  }
  if (!tsfnRefed) {
    napi_ref_threadsafe_function(env, tsfn);
    tsfnRefed = true;
  }
  if (!hookAdded) {
    napi_add_env_cleanup_hook(env, EnvCleanup, this);
    hookAdded = true;
  }
}

template <typename Call>
ULONG QueueCore::Issue(napi_value wrapper, Op* op, Call call) {
  EnsureIo(wrapper);
  {
    std::lock_guard<std::mutex> lock(mu);
    ++outstanding;
  }
  StartThreadpoolIo(io);
  ULONG rc = call(&op->ov);
  if (CompletionWillFollow(rc)) return ERROR_IO_PENDING;
  CancelThreadpoolIo(io);
  {
    std::lock_guard<std::mutex> lock(mu);
    --outstanding;
  }
  cv.notify_all();
  return rc;
}

static void DeleteOpRefs(napi_env env, Op* op) {
  for (napi_ref r : op->keepAlive) napi_delete_reference(env, r);
  op->keepAlive.clear();
}

void QueueCore::Settle(napi_env env, std::unique_ptr<Op> op) {
  DeleteOpRefs(env, op.get());  // the OS is done with every buffer of this operation
  napi_deferred deferred = op->deferred;
  op->deferred = nullptr;
  if (deferred == nullptr) return;
  Napi::Env e(env);
  try {
    napi_value value = nullptr;
    bool ok = true;
    if (op->kind == OpKind::ReadBody) {
      if (op->error == NO_ERROR && op->bytes > 0) {
        value = Napi::Buffer<uint8_t>::Copy(e, op->data.data(), op->bytes);
      } else if (op->error == ERROR_HANDLE_EOF || op->error == NO_ERROR) {
        // End of the body (a zero-byte read into a non-empty buffer means the same).
        value = e.Null();
      } else {
        ok = false;
      }
    } else if (op->error == NO_ERROR) {
      value = e.Undefined();
    } else {
      ok = false;
    }
    if (ok) {
      napi_resolve_deferred(env, deferred, value);
    } else {
      napi_reject_deferred(env, deferred, Win32Error(e, op->syscall, op->error).Value());
    }
  } catch (const Napi::Error& error) {
    // Making the result failed (for example out of memory): the promise still settles.
    napi_reject_deferred(env, deferred, error.Value());
  }
}

static Napi::Object RequestToJs(Napi::Env env, const ParsedRequest& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::BigInt::New(env, static_cast<uint64_t>(r.id)));
  o.Set("connectionId", Napi::BigInt::New(env, static_cast<uint64_t>(r.connectionId)));
  o.Set("urlContext", Napi::Number::New(env, static_cast<double>(r.urlContext)));
  o.Set("method", Napi::String::New(env, r.method));
  o.Set("rawUrl", Napi::String::New(env, r.rawUrl));
  o.Set("host", Napi::String::New(env, r.host));
  o.Set("httpVersion", Napi::String::New(env, r.httpVersion));
  o.Set("http2", Napi::Boolean::New(env, r.http2));
  Napi::Array headers = Napi::Array::New(env, r.headers.size());
  for (size_t i = 0; i < r.headers.size(); ++i) {
    headers.Set(static_cast<uint32_t>(i), Napi::String::New(env, r.headers[i]));
  }
  o.Set("headers", headers);
  o.Set("remoteAddress", Napi::String::New(env, r.remoteAddress));
  o.Set("remotePort", Napi::Number::New(env, r.remotePort));
  o.Set("localAddress", Napi::String::New(env, r.localAddress));
  o.Set("localPort", Napi::Number::New(env, r.localPort));
  o.Set("secure", Napi::Boolean::New(env, r.secure));
  if (r.hasTls) {
    Napi::Object tls = Napi::Object::New(env);
    tls.Set("protocol", Napi::Number::New(env, r.tls.Protocol));
    tls.Set("cipherType", Napi::Number::New(env, r.tls.CipherType));
    tls.Set("cipherStrength", Napi::Number::New(env, r.tls.CipherStrength));
    tls.Set("hashType", Napi::Number::New(env, r.tls.HashType));
    tls.Set("keyExchangeType", Napi::Number::New(env, r.tls.KeyExchangeType));
    o.Set("tls", tls);
  }
  if (r.hasBody) {
    o.Set("body", Napi::Buffer<uint8_t>::Copy(env, r.body.data(), r.body.size()));
  } else {
    o.Set("body", env.Null());
  }
  o.Set("moreBody", Napi::Boolean::New(env, r.moreBody));
  return o;
}

void QueueCore::Drain(napi_env env) {
  std::vector<Completion> items;
  bool isClosing;
  size_t inFlight;
  {
    std::lock_guard<std::mutex> lock(mu);
    items.swap(completed);
    isClosing = closing;
    inFlight = outstanding;
  }
  Napi::Env e(env);
  Napi::HandleScope scope(e);
  std::vector<Napi::Object> batch;
  // Operations first: each settles even if turning a request into an object throws below.
  for (auto& c : items) {
    if (c.op) Settle(env, std::move(c.op));
  }
  for (auto& c : items) {
    if (c.request && !isClosing && onRequests != nullptr) batch.push_back(RequestToJs(e, *c.request));
  }
  if (!isClosing && !started && inFlight == 0 && tsfnRefed && tsfn != nullptr) {
    napi_unref_threadsafe_function(env, tsfn);
    tsfnRefed = false;
  }
  if (!batch.empty()) {
    Napi::Array array = Napi::Array::New(e, batch.size());
    for (size_t i = 0; i < batch.size(); ++i) array.Set(static_cast<uint32_t>(i), batch[i]);
    napi_value fn;
    if (napi_get_reference_value(env, onRequests, &fn) == napi_ok && fn != nullptr) {
      napi_value receiver = e.Undefined();
      napi_value arg = array;
      napi_value ignored;
      // An exception thrown by the handler surfaces as an uncaught exception, like any callback's.
      napi_status s = napi_call_function(env, receiver, fn, 1, &arg, &ignored);
      if (s == napi_pending_exception) {
        napi_value error;
        napi_get_and_clear_last_exception(env, &error);
        napi_fatal_exception(env, error);
      }
    }
  }
  if (isClosing && inFlight == 0 && !finalized) Finalize(env);
}

void QueueCore::BeginClose() {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (closing) return;
    closing = true;
  }
  if (handle != nullptr) CancelIoEx(handle, nullptr);
}

std::vector<Completion> QueueCore::ReleaseHandles(bool cancelQueuedCallbacks) {
  if (io != nullptr) {
    WaitForThreadpoolIoCallbacks(io, cancelQueuedCallbacks ? TRUE : FALSE);
    CloseThreadpoolIo(io);
    io = nullptr;
  }
  if (handle != nullptr) {
    Api().CloseRequestQueue(handle);
    handle = nullptr;
  }
  finalized = true;
  std::vector<Completion> items;
  std::lock_guard<std::mutex> lock(mu);
  items.swap(completed);
  return items;
}

void QueueCore::Finalize(napi_env env) {
  if (finalized) return;
  std::vector<Completion> items = ReleaseHandles(false);
  for (auto& c : items) {
    if (c.op) Settle(env, std::move(c.op));
  }
  if (hookAdded) {
    napi_remove_env_cleanup_hook(env, EnvCleanup, this);
    hookAdded = false;
  }
  if (onRequests != nullptr) {
    napi_delete_reference(env, onRequests);
    onRequests = nullptr;
  }
  if (self != nullptr) {
    napi_delete_reference(env, self);
    self = nullptr;
  }
  std::vector<napi_deferred> waiters;
  waiters.swap(closeWaiters);
  for (napi_deferred d : waiters) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, d, undefined);
  }
  if (tsfn != nullptr) {
    napi_threadsafe_function t = tsfn;
    napi_release_threadsafe_function(t, napi_tsfn_release);
  }
}

void QueueCore::ShutdownBlocking() {
  if (finalized || leaked) return;
  {
    std::lock_guard<std::mutex> lock(mu);
    closing = true;
    envGone = true;
  }
  if (handle != nullptr) CancelIoEx(handle, nullptr);
  {
    std::unique_lock<std::mutex> lock(mu);
    bool done = cv.wait_for(lock, std::chrono::seconds(10), [this] { return outstanding == 0; });
    if (!done) {
      leaked = true;  // an operation never completed: keep every structure alive for it
      return;
    }
  }
  // JavaScript is gone: the remaining ops go without calling into it (their references die with the environment).
  ReleaseHandles(true);
}

// ---------------------------------------------------------------------------
// JavaScript class

Napi::Function RequestQueue::Define(Napi::Env env) {
  return DefineClass(env, "RequestQueue",
                     {
                         InstanceMethod<&RequestQueue::Start>("start"),
                         InstanceMethod<&RequestQueue::SetQueueLength>("setQueueLength"),
                         InstanceMethod<&RequestQueue::SetVerbosity>("setVerbosity"),
                         InstanceMethod<&RequestQueue::ReadBody>("readBody"),
                         InstanceMethod<&RequestQueue::SendResponse>("sendResponse"),
                         InstanceMethod<&RequestQueue::SendBody>("sendBody"),
                         InstanceMethod<&RequestQueue::Reset>("reset"),
                         InstanceMethod<&RequestQueue::Cancel>("cancel"),
                         InstanceMethod<&RequestQueue::WaitForDisconnect>("waitForDisconnect"),
                         InstanceMethod<&RequestQueue::Close>("close"),
                     });
}

RequestQueue::RequestQueue(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RequestQueue>(info) {
  Napi::Env env = info.Env();
  const HttpApi& api = Api();
  if (api.initError != 0) ThrowWin32(env, api.initSyscall, api.initError);

  std::string name;
  std::string mode = "create";
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    Napi::Object options = RequireObject(env, info[0], "options");
    Napi::Value n = options.Get("name");
    if (!n.IsUndefined()) {
      name = RequireString(env, n, "options.name", 1024);
      if (name.empty()) ThrowType(env, "options.name must not be empty");
      if (Widen(name).size() > 260) ThrowType(env, "options.name is longer than 260 characters");
      for (char c : name) {
        if (c == '\\' || c == '/') ThrowType(env, "options.name must not contain '\\' or '/'");
      }
    }
    Napi::Value m = options.Get("mode");
    if (!m.IsUndefined()) {
      mode = RequireString(env, m, "options.mode", 32);
      if (mode != "create" && mode != "attach" && mode != "createOrAttach") {
        ThrowType(env, "options.mode must be 'create', 'attach' or 'createOrAttach'");
      }
    }
    if (mode != "create" && name.empty()) ThrowType(env, "options.mode '" + mode + "' needs options.name");
  }
  if (!name.empty() && !api.caps.namedQueues) {
    throw UnsupportedError(env, "HttpCreateRequestQueue", "Named request queues");
  }

  std::wstring wname = Widen(name);
  PCWSTR pname = name.empty() ? nullptr : wname.c_str();
  HTTPAPI_VERSION v2 = HTTPAPI_VERSION_2;
  HANDLE handle = nullptr;
  ULONG rc;
  bool created = true;
  if (mode == "attach") {
    rc = api.CreateRequestQueue(v2, pname, nullptr, kQueueOpenExisting, &handle);
    created = false;
  } else {
    rc = api.CreateRequestQueue(v2, pname, nullptr, 0, &handle);
    if (rc == ERROR_ALREADY_EXISTS && mode == "createOrAttach") {
      rc = api.CreateRequestQueue(v2, pname, nullptr, kQueueOpenExisting, &handle);
      created = false;
    }
  }
  if (rc != NO_ERROR) {
    ErrorContext ctx;
    ctx.queueName = name;
    ThrowWin32(env, "HttpCreateRequestQueue", rc, ctx);
  }
  // Owned from here: if anything below throws, the handle is closed with it.
  auto core = std::make_unique<QueueCore>();
  core->env = env;
  core->handle = handle;
  // Synchronous completions are handled inline (as ASP.NET Core's HttpSys server does); no packet follows them.
  core->skipOnSuccess =
      SetFileCompletionNotificationModes(handle, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE) !=
      FALSE;
  core->created = created;
  core->name = name;
  // A data property (not a prototype accessor), so reading it off a foreign receiver cannot fail.
  info.This().As<Napi::Object>().DefineProperty(
      Napi::PropertyDescriptor::Value("created", Napi::Boolean::New(env, created), napi_enumerable));
  TagInstance<RequestQueue>(info.This());
  core_ = core.release();
}

RequestQueue::~RequestQueue() {
  if (core_ == nullptr) return;
  if (!core_->finalized) core_->ShutdownBlocking();
  if (core_->leaked) return;
  if (core_->tsfn != nullptr) {
    core_->wrapperGone = true;  // deleted by the thread-safe function's finalizer
    return;
  }
  delete core_;
}

bool RequestQueue::IsClosing() {
  if (core_ == nullptr || core_->finalized) return true;
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->closing;
}

void RequestQueue::RequireOpen(Napi::Env env, const char* syscall) {
  if (IsClosing()) throw ClosedError(env, syscall, "the request queue");
}

void RequestQueue::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowType(env, "onRequests must be a function");
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  double receives = 5.0 * (si.dwNumberOfProcessors > 0 ? si.dwNumberOfProcessors : 1);
  if (receives > 256) receives = 256;
  double initial = 4096;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    Napi::Object options = RequireObject(env, info[1], "options");
    Napi::Value r = options.Get("receives");
    if (!r.IsUndefined()) receives = RequireInteger(env, r, "options.receives", 1, 1024);
    Napi::Value b = options.Get("initialBufferSize");
    if (!b.IsUndefined()) initial = RequireInteger(env, b, "options.initialBufferSize", 1024, 16 * 1024 * 1024);
  }
  RequireOpen(env, "HttpReceiveHttpRequest");
  if (core_->started) throw Napi::Error::New(env, "start() was already called on this request queue");

  core_->EnsureIo(Value());
  core_->started = true;
  core_->initialBufferSize = static_cast<ULONG>(initial);
  napi_create_reference(env, info[0], 1, &core_->onRequests);
  int n = static_cast<int>(receives);
  for (int i = 0; i < n; ++i) {
    auto op = std::make_unique<Op>();
    op->kind = OpKind::Receive;
    AllocateReceiveBuffer(op.get(), core_->initialBufferSize);
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      ++core_->outstanding;  // counted only once the op exists, so a failed allocation cannot stall close()
    }
    core_->PostReceive(op.release());
  }
}

void RequestQueue::SetQueueLength(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ULONG length = static_cast<ULONG>(RequireInteger(env, info[0], "length", 1, 4294967295.0));
  RequireOpen(env, "HttpSetRequestQueueProperty");
  if (!Api().caps.properties) throw UnsupportedError(env, "HttpSetRequestQueueProperty", "Setting the queue length");
  ULONG rc = Api().SetRequestQueueProperty(core_->handle, HttpServerQueueLengthProperty, &length, sizeof(length), 0,
                                           nullptr);
  if (rc != NO_ERROR) ThrowWin32(env, "HttpSetRequestQueueProperty", rc);
}

void RequestQueue::SetVerbosity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ULONG level = static_cast<ULONG>(RequireInteger(env, info[0], "level", 0, 2));
  RequireOpen(env, "HttpSetRequestQueueProperty");
  if (!Api().caps.properties) throw UnsupportedError(env, "HttpSetRequestQueueProperty", "Setting the 503 verbosity");
  ULONG rc = Api().SetRequestQueueProperty(core_->handle, HttpServer503VerbosityProperty, &level, sizeof(level), 0,
                                           nullptr);
  if (rc != NO_ERROR) ThrowWin32(env, "HttpSetRequestQueueProperty", rc);
}

Napi::Value RequestQueue::Launch(Napi::Env env, std::unique_ptr<Op> op, const char* syscall) {
  op->syscall = syscall;
  core_->EnsureIo(Value());  // may throw: before the promise exists
  napi_value promise;
  if (napi_create_promise(env, &op->deferred, &promise) != napi_ok) throw Napi::Error::New(env);
  HANDLE handle = core_->handle;
  const HttpApi& api = Api();
  ULONG got = 0;
  ULONG rc = core_->Issue(Value(), op.get(), [&](OVERLAPPED* ov) -> ULONG {
    switch (op->kind) {
      case OpKind::ReadBody:
        return api.ReceiveRequestEntityBody(handle, op->targetId, 0, op->data.data(),
                                            static_cast<ULONG>(op->data.size()), &got, ov);
      case OpKind::SendResponse:
        return api.SendHttpResponse(handle, op->targetId, op->response->flags,
                                    reinterpret_cast<PHTTP_RESPONSE>(&op->response->response), nullptr, nullptr,
                                    nullptr, 0, ov, nullptr);
      case OpKind::SendBody:
        return api.SendResponseEntityBody(handle, op->targetId, op->body->flags, op->body->chunkCount(),
                                          op->body->chunkPointer(), nullptr, nullptr, 0, ov, nullptr);
      case OpKind::Disconnect:
        return api.WaitForDisconnectEx != nullptr ? api.WaitForDisconnectEx(handle, op->targetId, 0, ov)
                                                  : api.WaitForDisconnect(handle, op->targetId, ov);
      default:
        return ERROR_INVALID_PARAMETER;
    }
  });
  if (rc == ERROR_IO_PENDING) {
    op.release();  // the OS has it; its completion hands it back through a Completion
  } else {
    // Finished synchronously (success without a completion packet, or failure): settle now.
    op->error = rc;
    op->bytes = got;
    core_->Settle(env, std::move(op));  // ERROR_HANDLE_EOF resolves null
  }
  return Napi::Value(env, promise);
}

Napi::Value RequestQueue::ReadBody(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = RequireId(env, info[0], "requestId");
  double max = RequireInteger(env, info[1], "maxBytes", 1, kMaxReadBytes);
  RequireOpen(env, "HttpReceiveRequestEntityBody");
  auto op = std::make_unique<Op>();
  op->kind = OpKind::ReadBody;
  op->targetId = id;
  op->data.resize(static_cast<size_t>(max));
  return Launch(env, std::move(op), "HttpReceiveRequestEntityBody");
}

Napi::Value RequestQueue::SendResponse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = RequireId(env, info[0], "requestId");
  Napi::Object r = RequireObject(env, info[1], "response");
  ResponseSpec spec;
  spec.status = static_cast<int>(RequireInteger(env, r.Get("status"), "response.status", 100, 999));
  Napi::Value reason = r.Get("reason");
  if (!reason.IsUndefined()) {
    spec.hasReason = true;
    spec.reason = RequireString(env, reason, "response.reason", 65535);
  }
  spec.headers = OptionalHeaderList(env, r, "headers");
  spec.trailers = OptionalHeaderList(env, r, "trailers");
  spec.moreData = OptionalBool(env, r, "moreData");
  spec.opaque = OptionalBool(env, r, "opaque");
  spec.disconnect = OptionalBool(env, r, "disconnect");
  std::vector<Napi::Value> views = OptionalByteViews(env, r, "body");
  // No JavaScript runs after this point, so the byte pointers stay valid.
  for (const auto& v : views) spec.body.push_back(ViewBytes(env, v));
  if (spec.moreData && !Api().caps.streamingResponses) {
    throw UnsupportedError(env, "HttpSendResponseEntityBody", "Streaming a response body (moreData)");
  }
  if (spec.opaque && !Api().caps.opaqueUpgrade) {
    throw UnsupportedError(env, "HttpSendHttpResponse", "Opaque (upgrade) responses");
  }
  if (!spec.trailers.empty() && !Api().caps.trailers) {
    throw UnsupportedError(env, "HttpSendHttpResponse", "Response trailers");
  }
  auto built = std::make_unique<BuiltResponse>();
  std::string e = BuildResponse(spec, *built);
  if (!e.empty()) ThrowType(env, "response: " + e);
  RequireOpen(env, "HttpSendHttpResponse");
  auto op = NewSendOp(env, OpKind::SendResponse, id, views);
  op->response = std::move(built);
  return Launch(env, std::move(op), "HttpSendHttpResponse");
}

Napi::Value RequestQueue::SendBody(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = RequireId(env, info[0], "requestId");
  Napi::Object c = RequireObject(env, info[1], "chunk");
  BodySpec spec;
  spec.trailers = OptionalHeaderList(env, c, "trailers");
  spec.moreData = OptionalBool(env, c, "moreData");
  spec.disconnect = OptionalBool(env, c, "disconnect");
  std::vector<Napi::Value> views = OptionalByteViews(env, c, "body");
  for (const auto& v : views) spec.body.push_back(ViewBytes(env, v));
  if (!Api().caps.streamingResponses) {
    throw UnsupportedError(env, "HttpSendResponseEntityBody", "Streaming a response body");
  }
  if (!spec.trailers.empty() && !Api().caps.trailers) {
    throw UnsupportedError(env, "HttpSendResponseEntityBody", "Response trailers");
  }
  auto built = std::make_unique<BuiltBody>();
  std::string e = BuildBody(spec, *built);
  if (!e.empty()) ThrowType(env, "chunk: " + e);
  RequireOpen(env, "HttpSendResponseEntityBody");
  auto op = NewSendOp(env, OpKind::SendBody, id, views);
  op->body = std::move(built);
  return Launch(env, std::move(op), "HttpSendResponseEntityBody");
}

void RequestQueue::Reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = RequireId(env, info[0], "requestId");
  ULONG code = static_cast<ULONG>(RequireInteger(env, info[1], "code", 0, 4294967295.0));
  const HttpApi& api = Api();
  if (!api.caps.reset) throw UnsupportedError(env, "HttpSetRequestProperty", "Stream reset");
  RequireOpen(env, "HttpSetRequestProperty");
  StreamError se{code};
  ULONG rc = api.SetRequestProperty(core_->handle, id, kRequestPropertyStreamError, &se, sizeof(se), nullptr);
  if (rc != NO_ERROR) ThrowWin32(env, "HttpSetRequestProperty", rc);
  rc = api.CancelHttpRequest(core_->handle, id, nullptr);
  if (rc != NO_ERROR) ThrowWin32(env, "HttpCancelHttpRequest", rc);
}

void RequestQueue::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = RequireId(env, info[0], "requestId");
  const HttpApi& api = Api();
  if (!api.caps.cancel) throw UnsupportedError(env, "HttpCancelHttpRequest", "Cancelling a request");
  RequireOpen(env, "HttpCancelHttpRequest");
  ULONG rc = api.CancelHttpRequest(core_->handle, id, nullptr);
  if (rc != NO_ERROR) ThrowWin32(env, "HttpCancelHttpRequest", rc);
}

Napi::Value RequestQueue::WaitForDisconnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = RequireId(env, info[0], "connectionId");
  if (!Api().caps.disconnectNotification) {
    throw UnsupportedError(env, "HttpWaitForDisconnectEx", "Disconnect notification");
  }
  RequireOpen(env, "HttpWaitForDisconnectEx");
  auto op = std::make_unique<Op>();
  op->kind = OpKind::Disconnect;
  op->targetId = id;
  return Launch(env, std::move(op), "HttpWaitForDisconnectEx");
}

Napi::Value RequestQueue::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  napi_deferred deferred;
  napi_value promise;
  napi_create_promise(env, &deferred, &promise);
  if (core_ == nullptr || core_->finalized) {
    napi_resolve_deferred(env, deferred, env.Undefined());
    return Napi::Value(env, promise);
  }
  core_->closeWaiters.push_back(deferred);
  core_->BeginClose();
  size_t inFlight;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    inFlight = core_->outstanding;
  }
  if (core_->io == nullptr || inFlight == 0) {
    core_->Finalize(env);
  } else if (!core_->tsfnRefed && core_->tsfn != nullptr) {
    napi_ref_threadsafe_function(env, core_->tsfn);  // stay alive until the cancellations arrive
    core_->tsfnRefed = true;
  }
  return Napi::Value(env, promise);
}

}  // namespace hsys
