// Module entry: capabilities(), ServerSession, UrlGroup and RequestQueue.
#include <napi.h>

#include "class_guard.h"
#include "httpapi.h"
#include "js_values.h"
#include "request_queue.h"

#include <memory>
#include <string>
#include <vector>

namespace hsys {

namespace {

struct AddonData {
  Napi::FunctionReference urlGroup;
};

// One URL group's handle and the prefixes this process added to it.
struct GroupState {
  HTTP_URL_GROUP_ID id = 0;
  bool closed = false;
  std::vector<std::wstring> prefixes;

  // Removes the prefixes before closing: Windows does that by itself when a
  // group closes, Wine's http.sys keeps routing them to the queue otherwise.
  void Close() {
    if (closed || id == 0) return;
    closed = true;
    for (const auto& p : prefixes) Api().RemoveUrlFromUrlGroup(id, p.c_str(), 0);
    prefixes.clear();
    Api().CloseUrlGroup(id);
  }
};

// Shared by a session and its URL groups: Http.sys closes a session's groups with it.
struct SessionState {
  HTTP_SERVER_SESSION_ID id = 0;
  bool closed = false;
  std::vector<std::weak_ptr<GroupState>> groups;

  void Close() {
    if (closed || id == 0) return;
    for (auto& weak : groups) {
      if (auto g = weak.lock()) g->Close();
    }
    groups.clear();
    closed = true;
    Api().CloseServerSession(id);
  }
};

constexpr uint32_t kUrlGroupToken = 0x55524c47;  // marks the External passed by createUrlGroup

class UrlGroup : public Napi::ObjectWrap<UrlGroup> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UrlGroup",
                       {
                           InstanceMethod<&UrlGroup::AddUrl>("addUrl"),
                           InstanceMethod<&UrlGroup::RemoveUrl>("removeUrl"),
                           InstanceMethod<&UrlGroup::Bind>("bind"),
                           InstanceMethod<&UrlGroup::SetTimeouts>("setTimeouts"),
                           InstanceMethod<&UrlGroup::SetMaxConnections>("setMaxConnections"),
                           InstanceMethod<&UrlGroup::Close>("close"),
                       });
  }

  explicit UrlGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UrlGroup>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsExternal() || !info[1].IsNumber() ||
        info[1].As<Napi::Number>().Uint32Value() != kUrlGroupToken) {
      ThrowType(env, "UrlGroup cannot be constructed directly: use ServerSession.createUrlGroup()");
    }
    session_ = *info[0].As<Napi::External<std::shared_ptr<SessionState>>>().Data();
    sessionObject_ = Napi::Persistent(info[2].As<Napi::Object>());
    state_ = std::make_shared<GroupState>();
    ULONG rc = Api().CreateUrlGroup(session_->id, &state_->id, 0);
    if (rc != NO_ERROR) {
      state_->id = 0;
      ThrowWin32(env, "HttpCreateUrlGroup", rc);
    }
    id_ = state_->id;
    auto& groups = session_->groups;
    for (auto it = groups.begin(); it != groups.end();) it = it->expired() ? groups.erase(it) : it + 1;
    groups.push_back(state_);
  }

  ~UrlGroup() override {
    if (Open()) state_->Close();
  }

 private:
  bool Open() const { return session_ && state_ && id_ != 0 && !state_->closed && !session_->closed; }

  void RequireOpen(Napi::Env env, const char* syscall) {
    if (!Open()) throw ClosedError(env, syscall, "the URL group (or its server session)");
  }

  static std::string RequirePrefix(Napi::Env env, const Napi::Value& v) {
    std::string prefix = RequireString(env, v, "prefix", 4096);
    if (prefix.empty()) ThrowType(env, "prefix must not be empty");
    for (unsigned char c : prefix) {
      if (c < 0x20 || c == 0x7f) ThrowType(env, "prefix must not contain control characters");
    }
    return prefix;
  }

  void AddUrl(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string prefix = RequirePrefix(env, info[0]);
    double context = RequireInteger(env, info[1], "context", 0, 9007199254740991.0);
    RequireOpen(env, "HttpAddUrlToUrlGroup");
    ErrorContext ctx;
    ctx.prefix = prefix;
    ctx.user = CurrentUser();
    // Windows refuses a prefix without its trailing slash (87); some hosts (Wine) accept it. Refuse it everywhere.
    if (prefix.back() != '/') ThrowWin32(env, "HttpAddUrlToUrlGroup", ERROR_INVALID_PARAMETER, ctx);
    std::wstring w = Widen(prefix);
    ULONG rc = Api().AddUrlToUrlGroup(id_, w.c_str(), static_cast<HTTP_URL_CONTEXT>(context), 0);
    if (rc != NO_ERROR) ThrowWin32(env, "HttpAddUrlToUrlGroup", rc, ctx);
    state_->prefixes.push_back(std::move(w));
  }

  void RemoveUrl(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string prefix = RequirePrefix(env, info[0]);
    RequireOpen(env, "HttpRemoveUrlFromUrlGroup");
    std::wstring w = Widen(prefix);
    ULONG rc = Api().RemoveUrlFromUrlGroup(id_, w.c_str(), 0);
    if (rc != NO_ERROR) {
      ErrorContext ctx;
      ctx.prefix = prefix;
      ThrowWin32(env, "HttpRemoveUrlFromUrlGroup", rc, ctx);
    }
    auto& list = state_->prefixes;
    for (auto it = list.begin(); it != list.end(); ++it) {
      if (*it == w) {
        list.erase(it);
        break;
      }
    }
  }

  void Bind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    HTTP_BINDING_INFO binding{};
    if (info.Length() < 1 || info[0].IsUndefined()) ThrowType(env, "queue must be a RequestQueue or null");
    if (info[0].IsNull()) {
      binding.Flags.Present = 0;
      binding.RequestQueueHandle = nullptr;
      RequireOpen(env, "HttpSetUrlGroupProperty");
    } else {
      RequestQueue* queue = UnwrapTagged<RequestQueue>(env, info[0], "queue (or null)");
      RequireOpen(env, "HttpSetUrlGroupProperty");
      if (queue->IsClosing() || queue->Handle() == nullptr) {
        ThrowType(env, "queue is closed");
      }
      binding.Flags.Present = 1;
      binding.RequestQueueHandle = queue->Handle();
    }
    ULONG rc = Api().SetUrlGroupProperty(id_, HttpServerBindingProperty, &binding, sizeof(binding));
    if (rc != NO_ERROR) ThrowWin32(env, "HttpSetUrlGroupProperty", rc);
  }

  void SetTimeouts(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object t = RequireObject(env, info[0], "timeouts");
    HTTP_TIMEOUT_LIMIT_INFO limits{};
    limits.Flags.Present = 1;
    auto seconds = [&](const char* key) -> USHORT {
      Napi::Value v = t.Get(key);
      if (v.IsUndefined()) return 0;
      return static_cast<USHORT>(RequireInteger(env, v, (std::string("timeouts.") + key).c_str(), 0, 65535));
    };
    limits.EntityBody = seconds("entityBody");
    limits.DrainEntityBody = seconds("drainEntityBody");
    limits.RequestQueue = seconds("requestQueue");
    limits.IdleConnection = seconds("idleConnection");
    limits.HeaderWait = seconds("headerWait");
    Napi::Value rate = t.Get("minSendRate");
    if (!rate.IsUndefined()) {
      limits.MinSendRate = static_cast<ULONG>(RequireInteger(env, rate, "timeouts.minSendRate", 0, 4294967295.0));
    }
    RequireOpen(env, "HttpSetUrlGroupProperty");
    if (!Api().caps.properties) throw UnsupportedError(env, "HttpSetUrlGroupProperty", "Timeouts");
    ULONG rc = Api().SetUrlGroupProperty(id_, HttpServerTimeoutsProperty, &limits, sizeof(limits));
    if (rc != NO_ERROR) ThrowWin32(env, "HttpSetUrlGroupProperty", rc);
  }

  void SetMaxConnections(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    HTTP_CONNECTION_LIMIT_INFO limit{};
    limit.Flags.Present = 1;
    limit.MaxConnections = static_cast<ULONG>(RequireInteger(env, info[0], "limit", 1, 4294967295.0));
    HTTP_QOS_SETTING_INFO qos{};
    qos.QosType = HttpQosSettingTypeConnectionLimit;
    qos.QosSetting = &limit;
    RequireOpen(env, "HttpSetUrlGroupProperty");
    if (!Api().caps.properties) throw UnsupportedError(env, "HttpSetUrlGroupProperty", "A connection limit");
    ULONG rc = Api().SetUrlGroupProperty(id_, HttpServerQosProperty, &qos, sizeof(qos));
    if (rc != NO_ERROR) ThrowWin32(env, "HttpSetUrlGroupProperty", rc);
  }

  void Close(const Napi::CallbackInfo&) {
    if (Open()) state_->Close();
  }

  std::shared_ptr<SessionState> session_;
  std::shared_ptr<GroupState> state_;
  Napi::ObjectReference sessionObject_;
  HTTP_URL_GROUP_ID id_ = 0;
};

class ServerSession : public Napi::ObjectWrap<ServerSession> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ServerSession",
                       {
                           InstanceMethod<&ServerSession::CreateUrlGroup>("createUrlGroup"),
                           InstanceMethod<&ServerSession::Close>("close"),
                       });
  }

  explicit ServerSession(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ServerSession>(info) {
    Napi::Env env = info.Env();
    const HttpApi& api = Api();
    if (api.initError != 0) ThrowWin32(env, api.initSyscall, api.initError);
    state_ = std::make_shared<SessionState>();
    HTTPAPI_VERSION v2 = HTTPAPI_VERSION_2;
    ULONG rc = api.CreateServerSession(v2, &state_->id, 0);
    if (rc != NO_ERROR) {
      state_->closed = true;
      ThrowWin32(env, "HttpCreateServerSession", rc);
    }
  }

  ~ServerSession() override {
    if (state_) state_->Close();
  }

 private:
  Napi::Value CreateUrlGroup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!state_ || state_->closed) throw ClosedError(env, "HttpCreateUrlGroup", "the server session");
    auto* data = env.GetInstanceData<AddonData>();
    auto holder = Napi::External<std::shared_ptr<SessionState>>::New(
        env, new std::shared_ptr<SessionState>(state_),
        [](Napi::Env, std::shared_ptr<SessionState>* p) { delete p; });
    return data->urlGroup.New({holder, Napi::Number::New(env, kUrlGroupToken), Value()});
  }

  void Close(const Napi::CallbackInfo&) {
    if (state_) state_->Close();  // its URL groups close with it
  }

  std::shared_ptr<SessionState> state_;
};

Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const HostCapabilities& c = Api().caps;
  Napi::Object o = Napi::Object::New(env);
  o.Set("host", Napi::String::New(env, c.wine ? "wine" : "windows"));
  if (c.wine) o.Set("wineVersion", Napi::String::New(env, c.wineVersion));
  Napi::Object os = Napi::Object::New(env);
  os.Set("major", Napi::Number::New(env, c.osMajor));
  os.Set("minor", Napi::Number::New(env, c.osMinor));
  os.Set("build", Napi::Number::New(env, c.osBuild));
  o.Set("os", os);
  o.Set("trailers", Napi::Boolean::New(env, c.trailers));
  o.Set("reset", Napi::Boolean::New(env, c.reset));
  o.Set("opaqueUpgrade", Napi::Boolean::New(env, c.opaqueUpgrade));
  o.Set("http2", Napi::Boolean::New(env, c.http2));
  o.Set("delegation", Napi::Boolean::New(env, c.delegation));
  o.Set("cancel", Napi::Boolean::New(env, c.cancel));
  o.Set("disconnectNotification", Napi::Boolean::New(env, c.disconnectNotification));
  o.Set("queueShutdown", Napi::Boolean::New(env, c.queueShutdown));
  o.Set("streamingResponses", Napi::Boolean::New(env, c.streamingResponses));
  o.Set("namedQueues", Napi::Boolean::New(env, c.namedQueues));
  o.Set("properties", Napi::Boolean::New(env, c.properties));
  return o;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted with the environment (each worker has its own)
  data->urlGroup = Napi::Persistent(UrlGroup::Define(env));
  Napi::Function queue = RequestQueue::Define(env);
  exports.Set("capabilities", Napi::Function::New(env, Capabilities, "capabilities"));
  exports.Set("ServerSession", ServerSession::Define(env));
  exports.Set("RequestQueue", queue);
  return exports;
}

}  // namespace hsys

static Napi::Object InitHttpsys(Napi::Env env, Napi::Object exports) { return hsys::Init(env, exports); }

NODE_API_MODULE(httpsys, InitHttpsys)
