#include "win_errors.h"

namespace hsys {

namespace {

struct NamedCode {
  uint32_t code;
  const char* name;
};

constexpr NamedCode kNames[] = {
    {0, "ERROR_SUCCESS"},
    {2, "ERROR_FILE_NOT_FOUND"},
    {5, "ERROR_ACCESS_DENIED"},
    {6, "ERROR_INVALID_HANDLE"},
    {8, "ERROR_NOT_ENOUGH_MEMORY"},
    {14, "ERROR_OUTOFMEMORY"},
    {32, "ERROR_SHARING_VIOLATION"},
    {38, "ERROR_HANDLE_EOF"},
    {50, "ERROR_NOT_SUPPORTED"},
    {64, "ERROR_NETNAME_DELETED"},
    {87, "ERROR_INVALID_PARAMETER"},
    {120, "ERROR_CALL_NOT_IMPLEMENTED"},
    {122, "ERROR_INSUFFICIENT_BUFFER"},
    {123, "ERROR_INVALID_NAME"},
    {126, "ERROR_MOD_NOT_FOUND"},
    {127, "ERROR_PROC_NOT_FOUND"},
    {183, "ERROR_ALREADY_EXISTS"},
    {234, "ERROR_MORE_DATA"},
    {995, "ERROR_OPERATION_ABORTED"},
    {997, "ERROR_IO_PENDING"},
    {1168, "ERROR_NOT_FOUND"},
    {1214, "ERROR_INVALID_NETNAME"},
    {1229, "ERROR_CONNECTION_INVALID"},
    {1236, "ERROR_CONNECTION_ABORTED"},
    {1450, "ERROR_NO_SYSTEM_RESOURCES"},
    {1460, "ERROR_TIMEOUT"},
    {1722, "RPC_S_SERVER_UNAVAILABLE"},
    {1060, "ERROR_SERVICE_DOES_NOT_EXIST"},
    {1058, "ERROR_SERVICE_DISABLED"},
};

bool IsUrlCall(const std::string& syscall) {
  return syscall == "HttpAddUrlToUrlGroup" || syscall == "HttpRemoveUrlFromUrlGroup" || syscall == "HttpAddUrl";
}

std::string Sentence(const std::string& syscall, uint32_t code, const ErrorContext& ctx) {
  const std::string prefix = ctx.prefix.empty() ? std::string("the URL prefix") : ctx.prefix;
  const std::string user = ctx.user.empty() ? std::string("DOMAIN\\user") : ctx.user;
  switch (code) {
    case 5:
      if (IsUrlCall(syscall)) {
        return "this user has no URL reservation (URL ACL) for " + prefix +
               ". Reserve it once from an elevated prompt: netsh http add urlacl url=" + prefix + " user=" + user +
               " (or run the service as Administrator).";
      }
      if (syscall == "HttpCreateRequestQueue") {
        return "this process may not create or open the request queue" +
               (ctx.queueName.empty() ? std::string() : " \"" + ctx.queueName + "\"") +
               ": run it as the user that created the queue, or as Administrator.";
      }
      return "access denied: run the process as a user with the rights this call needs (for example as Administrator).";
    case 183:
      if (IsUrlCall(syscall)) {
        return "the prefix " + prefix +
               " is already registered by another process or application (for example IIS or another service). "
               "Choose another prefix or port, or remove the other registration; `netsh http show servicestate` "
               "lists who holds it.";
      }
      if (syscall == "HttpCreateRequestQueue") {
        return "a request queue named \"" + ctx.queueName +
               "\" already exists: open it with mode 'attach' or 'createOrAttach', or choose another name.";
      }
      return "the object already exists.";
    case 87:
      if (IsUrlCall(syscall)) {
        return "Http.sys rejected the prefix " + prefix +
               ": it must look like scheme://host:port/path/ and end with a slash (for example http://+:8080/api/); "
               "check the scheme (http or https), the port and the trailing '/'.";
      }
      return "Http.sys rejected a parameter of this call (for example a request id that is not valid for this "
             "queue, or flags the call does not accept).";
    case 2:
      if (syscall == "HttpCreateRequestQueue") {
        return "no request queue named \"" + ctx.queueName +
               "\" exists: create it first, or use mode 'createOrAttach'.";
      }
      if (IsUrlCall(syscall)) return prefix + " is not registered in this URL group.";
      return "the object was not found.";
    case 1168:
      if (IsUrlCall(syscall)) return prefix + " is not registered in this URL group.";
      return "the request or connection no longer exists (the client went away, or the response was already "
             "completed).";
    case 1229:
    case 1236:
    case 64:
      return "the connection for this request is gone (the client disconnected or the request was already "
             "answered).";
    case 995:
      return "the operation was cancelled (the request queue was closed or the request was cancelled).";
    case 6:
      return "the handle is not valid any more (the request queue, URL group or session was closed).";
    case 32:
      return "the port of " + prefix +
             " is held by a program that does not use Http.sys (a plain socket listener): stop it or choose "
             "another port.";
    case 120:
      return "this host's HTTP Server API does not implement " + syscall +
             " (Wine's http.sys implements only part of the API: one URL per URL group, no properties, no "
             "streamed bodies).";
    case 50:
      return "this version of Windows does not support " + syscall + ".";
    case 8:
    case 14:
    case 1450:
      return "the system is out of memory or kernel resources; reduce load or limits and retry.";
    case 122:
    case 234:
      return "a buffer was too small for the data Http.sys had to return.";
    case 1214:
      return "the host name in " + prefix + " is not valid: use a host name, an IP address, '+' or '*'.";
    case 1058:
    case 1060:
      return "the HTTP service (http.sys) is disabled or missing on this machine: enable it (sc config http "
             "start= demand) and retry.";
    default:
      return "see the Windows error code for details.";
  }
}

}  // namespace

std::string Win32ErrorName(uint32_t code) {
  for (const auto& n : kNames) {
    if (n.code == code) return n.name;
  }
  return "ERROR_" + std::to_string(code);
}

ErrorText DescribeWin32Error(const std::string& syscall, uint32_t code, const ErrorContext& context) {
  ErrorText out;
  out.code = Win32ErrorName(code);
  out.message = syscall + " failed with " + std::to_string(code) + " (" + out.code + "): " +
                Sentence(syscall, code, context);
  return out;
}

}  // namespace hsys
