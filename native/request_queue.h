// RequestQueue: an Http.sys request queue driven by the Windows thread pool.
//
// Every overlapped call on the queue handle completes on a thread-pool thread
// (CreateThreadpoolIo); with FILE_SKIP_COMPLETION_PORT_ON_SUCCESS set, calls
// that finish synchronously are handled inline instead. Pool threads never touch JavaScript: they parse
// requests into plain values and append finished operations to one list, then
// poke the queue's single thread-safe function; the JavaScript thread drains
// the whole list at once (batching), resolves promises and hands requests over.
#pragma once

#include <napi.h>

#include "http_compat.h"
#include "request_reader.h"
#include "response_builder.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hsys {

enum class OpKind { Receive, ReadBody, SendResponse, SendBody, Disconnect };

// One overlapped operation. OVERLAPPED comes first so the completion maps back.
struct Op {
  OVERLAPPED ov{};
  OpKind kind = OpKind::Receive;
  DWORD error = 0;
  ULONG bytes = 0;

  // Request (or, for Disconnect, connection) the operation is about.
  HTTP_OPAQUE_ID targetId = 0;

  // Receive
  std::unique_ptr<uint64_t[]> buffer;  // 8-byte aligned HTTP_REQUEST
  ULONG bufferSize = 0;
  HTTP_REQUEST_ID retryId = 0;  // set when ERROR_MORE_DATA named the request to receive again
  int failures = 0;

  // ReadBody
  std::vector<uint8_t> data;

  // Sends: what the OS reads from until completion.
  std::unique_ptr<BuiltResponse> response;
  std::unique_ptr<BuiltBody> body;

  // JavaScript-thread state (never touched on pool threads).
  napi_deferred deferred = nullptr;
  std::vector<napi_ref> keepAlive;
  const char* syscall = "";
};

// A finished receive (request set) or a finished JavaScript-started operation (op set, now owned here).
struct Completion {
  std::unique_ptr<ParsedRequest> request;
  std::unique_ptr<Op> op;
};

class QueueCore {
 public:
  QueueCore() = default;
  QueueCore(const QueueCore&) = delete;
  QueueCore& operator=(const QueueCore&) = delete;
  // Normally ReleaseHandles has closed the handle already; this covers a constructor that failed half-way.
  ~QueueCore();

  napi_env env = nullptr;
  HANDLE handle = nullptr;
  bool created = false;
  std::string name;
  PTP_IO io = nullptr;
  napi_threadsafe_function tsfn = nullptr;  // read on pool threads under mu
  bool tsfnRefed = false;
  bool hookAdded = false;
  napi_ref self = nullptr;
  napi_ref onRequests = nullptr;
  bool started = false;
  bool finalized = false;   // handle closed, nothing in flight
  bool leaked = false;      // teardown gave up waiting; pool threads may still run
  bool wrapperGone = false;
  ULONG initialBufferSize = 4096;
  std::vector<napi_deferred> closeWaiters;

  std::mutex mu;
  std::condition_variable cv;
  std::vector<Completion> completed;  // guarded by mu
  size_t outstanding = 0;             // guarded by mu: operations the OS still owns
  bool closing = false;               // guarded by mu
  bool envGone = false;               // guarded by mu

  bool skipOnSuccess = false;  // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set on the handle

  // True when a completion packet will report this call's result.
  bool CompletionWillFollow(ULONG rc) const;

  // Pool thread side.
  void OnIoComplete(Op* op, ULONG result, ULONG_PTR bytes) noexcept;
  // Issues (or re-issues) a receive. Called with the op counted in outstanding; the
  // receive loop owns the op from here until Retire deletes it.
  void PostReceive(Op* op) noexcept;
  // A receive finished with `result`: true when it should be posted again; otherwise the op is retired.
  bool HandleReceive(Op* op, ULONG result, ULONG_PTR bytes) noexcept;
  // Drops a receive op for good.
  void Retire(Op* op) noexcept;

  // JavaScript thread side.
  void EnsureIo(napi_value wrapper);
  // Starts an overlapped call; returns its Win32 result (NO_ERROR/ERROR_IO_PENDING mean "completion will come").
  template <typename Call>
  ULONG Issue(napi_value wrapper, Op* op, Call call);
  void Drain(napi_env env);
  // Resolves or rejects the op's promise and drops the references that kept its buffers alive.
  void Settle(napi_env env, std::unique_ptr<Op> op);
  void Finalize(napi_env env);
  // With nothing in flight: waits for the pool's callbacks, closes the pool I/O and the queue handle,
  // and hands back the completions not yet delivered.
  std::vector<Completion> ReleaseHandles(bool cancelQueuedCallbacks);
  void BeginClose();
  // Teardown without JavaScript (environment cleanup or finalizer).
  void ShutdownBlocking();

 private:
  void Push(Completion c, bool countedOp) noexcept;
  void Signal();
};

class RequestQueue : public Napi::ObjectWrap<RequestQueue> {
 public:
  static constexpr napi_type_tag kTypeTag{0x6d2f0b8a4c3e9157ull, 0xe94a1c7d03b5f266ull};
  static constexpr const char* kClassName = "RequestQueue";

  static Napi::Function Define(Napi::Env env);
  explicit RequestQueue(const Napi::CallbackInfo& info);
  ~RequestQueue() override;

  HANDLE Handle() const { return core_ != nullptr && !core_->finalized ? core_->handle : nullptr; }
  bool IsClosing();

 private:
  void Start(const Napi::CallbackInfo& info);
  void SetQueueLength(const Napi::CallbackInfo& info);
  void SetVerbosity(const Napi::CallbackInfo& info);
  Napi::Value ReadBody(const Napi::CallbackInfo& info);
  Napi::Value SendResponse(const Napi::CallbackInfo& info);
  Napi::Value SendBody(const Napi::CallbackInfo& info);
  void Reset(const Napi::CallbackInfo& info);
  void Cancel(const Napi::CallbackInfo& info);
  Napi::Value WaitForDisconnect(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void RequireOpen(Napi::Env env, const char* syscall);
  Napi::Value Launch(Napi::Env env, std::unique_ptr<Op> op, const char* syscall);

  QueueCore* core_ = nullptr;
};

}  // namespace hsys
