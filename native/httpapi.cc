#include "httpapi.h"

namespace hsys {

namespace {

template <typename Fn>
Fn Resolve(HMODULE module, const char* name) {
  return reinterpret_cast<Fn>(reinterpret_cast<void*>(GetProcAddress(module, name)));
}

void DetectHost(HostCapabilities& caps) {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  if (ntdll == nullptr) return;
  using WineGetVersionFn = const char*(__cdecl*)();
  auto wineGetVersion = Resolve<WineGetVersionFn>(ntdll, "wine_get_version");
  if (wineGetVersion != nullptr) {
    caps.wine = true;
    const char* v = wineGetVersion();
    caps.wineVersion = v != nullptr ? v : "";
  }
  struct OsVersionInfo {
    ULONG size, major, minor, build, platform;
    WCHAR csd[128];
  } info{};
  info.size = sizeof(info);
  using RtlGetVersionFn = LONG(WINAPI*)(OsVersionInfo*);
  auto rtlGetVersion = Resolve<RtlGetVersionFn>(ntdll, "RtlGetVersion");
  if (rtlGetVersion != nullptr && rtlGetVersion(&info) == 0) {
    caps.osMajor = info.major;
    caps.osMinor = info.minor;
    caps.osBuild = info.build;
  }
}

HttpApi Load() {
  HttpApi api;
  DetectHost(api.caps);

  HMODULE m = LoadLibraryExW(L"httpapi.dll", nullptr, LOAD_LIBRARY_SEARCH_SYSTEM32);
  if (m == nullptr) m = LoadLibraryW(L"httpapi.dll");
  if (m == nullptr) {
    api.initError = GetLastError();
    api.initSyscall = "LoadLibrary(httpapi.dll)";
    return api;
  }
  auto initialize = Resolve<HttpInitializeFn>(m, "HttpInitialize");
  api.CreateServerSession = Resolve<HttpCreateServerSessionFn>(m, "HttpCreateServerSession");
  api.CloseServerSession = Resolve<HttpCloseServerSessionFn>(m, "HttpCloseServerSession");
  api.CreateUrlGroup = Resolve<HttpCreateUrlGroupFn>(m, "HttpCreateUrlGroup");
  api.CloseUrlGroup = Resolve<HttpCloseUrlGroupFn>(m, "HttpCloseUrlGroup");
  api.AddUrlToUrlGroup = Resolve<HttpAddUrlToUrlGroupFn>(m, "HttpAddUrlToUrlGroup");
  api.RemoveUrlFromUrlGroup = Resolve<HttpRemoveUrlFromUrlGroupFn>(m, "HttpRemoveUrlFromUrlGroup");
  api.SetUrlGroupProperty = Resolve<HttpSetUrlGroupPropertyFn>(m, "HttpSetUrlGroupProperty");
  api.CreateRequestQueue = Resolve<HttpCreateRequestQueueFn>(m, "HttpCreateRequestQueue");
  api.CloseRequestQueue = Resolve<HttpCloseRequestQueueFn>(m, "HttpCloseRequestQueue");
  api.SetRequestQueueProperty = Resolve<HttpSetRequestQueuePropertyFn>(m, "HttpSetRequestQueueProperty");
  api.ReceiveHttpRequest = Resolve<HttpReceiveHttpRequestFn>(m, "HttpReceiveHttpRequest");
  api.ReceiveRequestEntityBody = Resolve<HttpReceiveRequestEntityBodyFn>(m, "HttpReceiveRequestEntityBody");
  api.SendHttpResponse = Resolve<HttpSendHttpResponseFn>(m, "HttpSendHttpResponse");

  if (initialize == nullptr || api.CreateServerSession == nullptr || api.CreateUrlGroup == nullptr ||
      api.AddUrlToUrlGroup == nullptr || api.SetUrlGroupProperty == nullptr || api.CreateRequestQueue == nullptr ||
      api.ReceiveHttpRequest == nullptr || api.SendHttpResponse == nullptr || api.CloseRequestQueue == nullptr ||
      api.CloseUrlGroup == nullptr || api.CloseServerSession == nullptr || api.RemoveUrlFromUrlGroup == nullptr ||
      api.ReceiveRequestEntityBody == nullptr || api.SetRequestQueueProperty == nullptr) {
    api.initError = ERROR_PROC_NOT_FOUND;
    api.initSyscall = "GetProcAddress(httpapi.dll)";
    return api;
  }

  HostCapabilities& caps = api.caps;
  if (!caps.wine) {
    // On Wine these exist but are stubs that abort the process: never resolved there.
    api.ShutdownRequestQueue = Resolve<HttpShutdownRequestQueueFn>(m, "HttpShutdownRequestQueue");
    api.CancelHttpRequest = Resolve<HttpCancelHttpRequestFn>(m, "HttpCancelHttpRequest");
    api.WaitForDisconnectEx = Resolve<HttpWaitForDisconnectExFn>(m, "HttpWaitForDisconnectEx");
    if (api.WaitForDisconnectEx == nullptr) {
      api.WaitForDisconnect = Resolve<HttpWaitForDisconnectFn>(m, "HttpWaitForDisconnect");
    }
    api.SetRequestProperty = Resolve<HttpSetRequestPropertyFn>(m, "HttpSetRequestProperty");
    api.IsFeatureSupported = Resolve<HttpIsFeatureSupportedFn>(m, "HttpIsFeatureSupported");
    api.DelegateRequestEx = Resolve<HttpDelegateRequestExFn>(m, "HttpDelegateRequestEx");
    // Wine 8 exports this as an unimplemented stub that aborts the process.
    api.SendResponseEntityBody = Resolve<HttpSendResponseEntityBodyFn>(m, "HttpSendResponseEntityBody");
  }

  HTTPAPI_VERSION v2 = HTTPAPI_VERSION_2;
  ULONG rc = initialize(v2, HTTP_INITIALIZE_SERVER, nullptr);
  if (rc != NO_ERROR) {
    api.initError = rc;
    api.initSyscall = "HttpInitialize";
    return api;
  }

  const bool win8 = caps.osMajor > 6 || (caps.osMajor == 6 && caps.osMinor >= 2);
  caps.cancel = api.CancelHttpRequest != nullptr;
  caps.disconnectNotification = api.WaitForDisconnectEx != nullptr || api.WaitForDisconnect != nullptr;
  caps.queueShutdown = api.ShutdownRequestQueue != nullptr;
  caps.reset = api.SetRequestProperty != nullptr && api.CancelHttpRequest != nullptr;
  caps.trailers = api.IsFeatureSupported != nullptr && api.IsFeatureSupported(kFeatureResponseTrailers) != FALSE;
  caps.delegation = api.DelegateRequestEx != nullptr && api.IsFeatureSupported != nullptr &&
                    api.IsFeatureSupported(kFeatureDelegateEx) != FALSE;
  caps.opaqueUpgrade = !caps.wine && win8;
  caps.http2 = !caps.wine && caps.osMajor >= 10;
  caps.streamingResponses = api.SendResponseEntityBody != nullptr;
  caps.namedQueues = !caps.wine;
  caps.properties = !caps.wine;
  return api;
}

}  // namespace

const HttpApi& Api() {
  // Never destroyed: thread-pool callbacks may still read it while the process runs its exit handlers.
  static const HttpApi* api = new HttpApi(Load());
  return *api;
}

}  // namespace hsys
