#include "response_builder.h"

#include <cstring>
#include <limits>

namespace hsys {

namespace {

constexpr size_t kMaxUShort = std::numeric_limits<USHORT>::max();
constexpr size_t kMaxULong = std::numeric_limits<ULONG>::max();

// Order matches HTTP_HEADER_ID for responses (HttpHeaderCacheControl .. HttpHeaderWwwAuthenticate).
constexpr const char* kKnownResponseHeaders[] = {
    "cache-control",    "connection",       "date",          "keep-alive",   "pragma",
    "trailer",          "transfer-encoding", "upgrade",      "via",          "warning",
    "allow",            "content-length",   "content-type",  "content-encoding", "content-language",
    "content-location", "content-md5",      "content-range", "expires",      "last-modified",
    "accept-ranges",    "age",              "etag",          "location",     "proxy-authenticate",
    "retry-after",      "server",           "set-cookie",    "vary",         "www-authenticate",
};
static_assert(sizeof(kKnownResponseHeaders) / sizeof(kKnownResponseHeaders[0]) == HttpHeaderResponseMaximum,
              "one name per known response header");

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

const std::string& Keep(std::deque<std::string>& strings, const std::string& s) {
  strings.push_back(s);
  return strings.back();
}

std::string CheckHeaders(const std::vector<Header>& headers, const char* what) {
  for (const auto& h : headers) {
    std::string e = CheckHeaderName(h.name);
    if (e.empty()) e = CheckHeaderValue(h.name, h.value);
    if (!e.empty()) return std::string(what) + ": " + e;
  }
  return "";
}

std::string CheckBody(const std::vector<Bytes>& body, size_t extraChunks) {
  if (body.size() + extraChunks > kMaxUShort) {
    return "too many body chunks (at most " + std::to_string(kMaxUShort - extraChunks) + " per send)";
  }
  for (const auto& b : body) {
    if (b.length > kMaxULong) return "a body chunk is larger than 4 GiB - 1 bytes";
    if (b.length > 0 && b.data == nullptr) return "a body chunk has no data";
  }
  return "";
}

void AddMemoryChunks(const std::vector<Bytes>& body, std::vector<DataChunk>& chunks) {
  for (const auto& b : body) {
    if (b.length == 0) continue;  // Http.sys gains nothing from empty chunks
    DataChunk c{};
    c.DataChunkType = kChunkFromMemory;
    c.FromMemory.pBuffer = const_cast<uint8_t*>(b.data);
    c.FromMemory.BufferLength = static_cast<ULONG>(b.length);
    chunks.push_back(c);
  }
}

void FillUnknown(const std::vector<Header>& headers, std::deque<std::string>& strings,
                 std::vector<HTTP_UNKNOWN_HEADER>& out) {
  out.reserve(out.size() + headers.size());
  for (const auto& h : headers) {
    const std::string& name = Keep(strings, h.name);
    const std::string& value = Keep(strings, h.value);
    HTTP_UNKNOWN_HEADER u{};
    u.NameLength = static_cast<USHORT>(name.size());
    u.pName = name.c_str();
    u.RawValueLength = static_cast<USHORT>(value.size());
    u.pRawValue = value.c_str();
    out.push_back(u);
  }
}

// What both sends check: the final-send rules, the trailers and the body chunks.
std::string CheckSendContent(const std::vector<Bytes>& body, const std::vector<Header>& trailers, bool moreData,
                             bool disconnect) {
  if (moreData && !trailers.empty()) return "trailers go only on the final send (moreData must be false)";
  if (moreData && disconnect) return "disconnect applies only to the final send (moreData must be false)";
  std::string e = CheckHeaders(trailers, "trailers");
  if (!e.empty()) return e;
  if (trailers.size() > kMaxUShort) return "too many trailers (at most 65535)";
  return CheckBody(body, trailers.empty() ? 0 : 1);
}

// The body as memory chunks, then the trailers (if any) as one HttpDataChunkTrailers chunk.
void AddContentChunks(const std::vector<Bytes>& body, const std::vector<Header>& trailers,
                      std::deque<std::string>& strings, std::vector<HTTP_UNKNOWN_HEADER>& trailerStore,
                      std::vector<DataChunk>& chunks) {
  AddMemoryChunks(body, chunks);
  if (trailers.empty()) return;
  FillUnknown(trailers, strings, trailerStore);
  DataChunk c{};
  c.DataChunkType = kChunkTrailers;
  c.Trailers.TrailerCount = static_cast<USHORT>(trailerStore.size());
  c.Trailers.pTrailers = trailerStore.data();
  chunks.push_back(c);
}

ULONG ContentSendFlags(bool moreData, bool disconnect) {
  return (moreData ? kSendMoreData : 0) | (disconnect ? kSendDisconnect : 0);
}

}  // namespace

int KnownResponseHeaderId(const std::string& name) {
  for (int i = 0; i < static_cast<int>(HttpHeaderResponseMaximum); ++i) {
    const char* known = kKnownResponseHeaders[i];
    size_t n = std::strlen(known);
    if (n != name.size()) continue;
    bool same = true;
    for (size_t k = 0; k < n; ++k) {
      if (Lower(name[k]) != known[k]) {
        same = false;
        break;
      }
    }
    if (same) return i;
  }
  return -1;
}

const char* DefaultReason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

std::string CheckHeaderName(const std::string& name) {
  if (name.empty()) return "a header name is empty";
  if (name.size() > kMaxUShort) return "a header name is longer than 65535 bytes";
  for (unsigned char c : name) {
    if (!IsTokenChar(c)) return "header name \"" + name + "\" contains a character that is not allowed in a name";
  }
  return "";
}

std::string CheckHeaderValue(const std::string& name, const std::string& value) {
  if (value.size() > kMaxUShort) return "the value of header \"" + name + "\" is longer than 65535 bytes";
  for (unsigned char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return "the value of header \"" + name + "\" contains CR, LF or NUL";
    }
  }
  return "";
}

std::string BuildResponse(const ResponseSpec& spec, BuiltResponse& out) {
  if (spec.status < 100 || spec.status > 999) return "status must be an integer from 100 to 999";
  if (spec.opaque && spec.status != 101) return "an opaque (upgrade) response must have status 101";
  if (spec.opaque && !spec.body.empty()) return "an opaque (upgrade) response carries no body";
  if (spec.opaque && !spec.trailers.empty()) return "an opaque (upgrade) response carries no trailers";
  if (spec.opaque && spec.disconnect) return "an opaque (upgrade) response cannot also disconnect";
  if (spec.hasReason) {
    if (spec.reason.size() > kMaxUShort) return "reason is longer than 65535 bytes";
    for (unsigned char c : spec.reason) {
      if (c == '\r' || c == '\n' || c == '\0') return "reason contains CR, LF or NUL";
    }
  }
  std::string e = CheckHeaders(spec.headers, "headers");
  if (!e.empty()) return e;
  if (spec.headers.size() > kMaxUShort) return "too many headers (at most 65535)";
  e = CheckSendContent(spec.body, spec.trailers, spec.moreData, spec.disconnect);
  if (!e.empty()) return e;

  HTTP_RESPONSE_V2& r = out.response;
  std::memset(&r, 0, sizeof(r));
  r.Version.MajorVersion = 1;
  r.Version.MinorVersion = 1;
  r.StatusCode = static_cast<USHORT>(spec.status);
  const std::string& reason = Keep(out.strings, spec.hasReason ? spec.reason : std::string(DefaultReason(spec.status)));
  r.ReasonLength = static_cast<USHORT>(reason.size());
  r.pReason = reason.c_str();

  std::vector<Header> unknown;
  for (const auto& h : spec.headers) {
    int id = KnownResponseHeaderId(h.name);
    // With OPAQUE, Http.sys would replace a known Connection header; it must go out as an unknown one.
    if (spec.opaque && id == HttpHeaderConnection) id = -1;
    if (id >= 0 && r.Headers.KnownHeaders[id].pRawValue == nullptr) {
      const std::string& value = Keep(out.strings, h.value);
      r.Headers.KnownHeaders[id].RawValueLength = static_cast<USHORT>(value.size());
      r.Headers.KnownHeaders[id].pRawValue = value.c_str();
    } else {
      // Repeats of a known header (Set-Cookie, ...) keep their own lines as unknown headers.
      unknown.push_back(h);
    }
  }
  FillUnknown(unknown, out.strings, out.unknownHeaders);
  r.Headers.UnknownHeaderCount = static_cast<USHORT>(out.unknownHeaders.size());
  r.Headers.pUnknownHeaders = out.unknownHeaders.empty() ? nullptr : out.unknownHeaders.data();

  AddContentChunks(spec.body, spec.trailers, out.strings, out.trailers, out.chunks);
  r.EntityChunkCount = static_cast<USHORT>(out.chunks.size());
  r.pEntityChunks = out.chunks.empty() ? nullptr : reinterpret_cast<PHTTP_DATA_CHUNK>(out.chunks.data());

  out.flags = ContentSendFlags(spec.moreData, spec.disconnect);
  if (spec.opaque) out.flags |= kSendOpaque | kSendMoreData | kSendBufferData;
  return "";
}

std::string BuildBody(const BodySpec& spec, BuiltBody& out) {
  std::string e = CheckSendContent(spec.body, spec.trailers, spec.moreData, spec.disconnect);
  if (!e.empty()) return e;
  AddContentChunks(spec.body, spec.trailers, out.strings, out.trailers, out.chunks);
  out.flags = ContentSendFlags(spec.moreData, spec.disconnect);
  return "";
}

}  // namespace hsys
