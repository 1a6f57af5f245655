// httpapi.dll resolved at run time, HttpInitialize done once per process, and
// what this host really supports.
#pragma once

#include "http_compat.h"

#include <string>

namespace hsys {

struct HostCapabilities {
  bool wine = false;
  std::string wineVersion;
  unsigned long osMajor = 0, osMinor = 0, osBuild = 0;
  bool trailers = false;
  bool reset = false;
  bool opaqueUpgrade = false;
  bool http2 = false;
  bool delegation = false;
  bool cancel = false;
  bool disconnectNotification = false;
  bool queueShutdown = false;
  bool streamingResponses = false;
  bool namedQueues = false;
  bool properties = false;
};

struct HttpApi {
  // Zero when httpapi.dll loaded and HttpInitialize succeeded.
  DWORD initError = 0;
  std::string initSyscall;

  HostCapabilities caps;

  HttpCreateServerSessionFn CreateServerSession = nullptr;
  HttpCloseServerSessionFn CloseServerSession = nullptr;
  HttpCreateUrlGroupFn CreateUrlGroup = nullptr;
  HttpCloseUrlGroupFn CloseUrlGroup = nullptr;
  HttpAddUrlToUrlGroupFn AddUrlToUrlGroup = nullptr;
  HttpRemoveUrlFromUrlGroupFn RemoveUrlFromUrlGroup = nullptr;
  HttpSetUrlGroupPropertyFn SetUrlGroupProperty = nullptr;
  HttpCreateRequestQueueFn CreateRequestQueue = nullptr;
  HttpCloseRequestQueueFn CloseRequestQueue = nullptr;
  HttpSetRequestQueuePropertyFn SetRequestQueueProperty = nullptr;
  HttpReceiveHttpRequestFn ReceiveHttpRequest = nullptr;
  HttpReceiveRequestEntityBodyFn ReceiveRequestEntityBody = nullptr;
  HttpSendHttpResponseFn SendHttpResponse = nullptr;
  // Null wherever the host lacks them or only has aborting stubs (Wine).
  HttpSendResponseEntityBodyFn SendResponseEntityBody = nullptr;
  HttpShutdownRequestQueueFn ShutdownRequestQueue = nullptr;
  HttpCancelHttpRequestFn CancelHttpRequest = nullptr;
  HttpWaitForDisconnectExFn WaitForDisconnectEx = nullptr;
  HttpWaitForDisconnectFn WaitForDisconnect = nullptr;  // older hosts, when the Ex form is absent
  HttpSetRequestPropertyFn SetRequestProperty = nullptr;
  HttpIsFeatureSupportedFn IsFeatureSupported = nullptr;
  HttpDelegateRequestExFn DelegateRequestEx = nullptr;
};

// Loaded once (thread-safe), never unloaded.
const HttpApi& Api();

}  // namespace hsys
