#include "request_reader.h"

#include <cstdio>
#include <cstring>

namespace hsys {

namespace {

// Order matches HTTP_HEADER_ID for requests (HttpHeaderCacheControl .. HttpHeaderUserAgent).
constexpr const char* kKnownRequestHeaders[] = {
    "cache-control",   "connection",          "date",          "keep-alive",        "pragma",
    "trailer",         "transfer-encoding",   "upgrade",       "via",               "warning",
    "allow",           "content-length",      "content-type",  "content-encoding",  "content-language",
    "content-location", "content-md5",        "content-range", "expires",           "last-modified",
    "accept",          "accept-charset",      "accept-encoding", "accept-language", "authorization",
    "cookie",          "expect",              "from",          "host",              "if-match",
    "if-modified-since", "if-none-match",     "if-range",      "if-unmodified-since", "max-forwards",
    "proxy-authorization", "referer",         "range",         "te",                "translate",
    "user-agent",
};
static_assert(sizeof(kKnownRequestHeaders) / sizeof(kKnownRequestHeaders[0]) == HttpHeaderRequestMaximum,
              "one name per known request header");

constexpr const char* kVerbs[] = {
    "",        "",     "",          "OPTIONS",  "GET",       "HEAD",  "POST", "PUT",    "DELETE", "TRACE",
    "CONNECT", "TRACK", "MOVE",     "COPY",     "PROPFIND", "PROPPATCH", "MKCOL", "LOCK", "UNLOCK", "SEARCH",
};
static_assert(sizeof(kVerbs) / sizeof(kVerbs[0]) == HttpVerbMaximum, "one name per verb");

std::string Lowered(const char* p, size_t n) {
  std::string s(p, n);
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Utf8(const WCHAR* p, size_t chars) {
  if (p == nullptr || chars == 0) return std::string();
  int n = WideCharToMultiByte(CP_UTF8, 0, p, static_cast<int>(chars), nullptr, 0, nullptr, nullptr);
  if (n <= 0) return std::string();
  std::string s(static_cast<size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, p, static_cast<int>(chars), &s[0], n, nullptr, nullptr);
  return s;
}

// Ports are stored in network byte order.
uint16_t NetworkPort(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((b[0] << 8) | b[1]);
}

}  // namespace

std::string StripPort(const std::string& host) {
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    return close == std::string::npos ? host : host.substr(0, close + 1);
  }
  size_t colon = host.rfind(':');
  if (colon == std::string::npos) return host;
  for (size_t i = colon + 1; i < host.size(); ++i) {
    if (host[i] < '0' || host[i] > '9') return host;
  }
  return host.substr(0, colon);
}

void FormatAddress(const SOCKADDR* address, std::string& text, uint16_t& port) {
  text.clear();
  port = 0;
  if (address == nullptr) return;
  char buf[64];
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    const auto* b = reinterpret_cast<const unsigned char*>(&in->sin_addr);
    std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    text = buf;
    port = NetworkPort(&in->sin_port);
  } else if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    // RFC 5952 text: lower-case hex, longest run (>1) of zero groups as "::".
    uint16_t g[8];
    const auto* b = reinterpret_cast<const unsigned char*>(&in6->sin6_addr);
    for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>((b[2 * i] << 8) | b[2 * i + 1]);
    int bestStart = -1, bestLen = 0;
    for (int i = 0; i < 8;) {
      if (g[i] != 0) {
        ++i;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) ++j;
      if (j - i > bestLen && j - i > 1) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    std::string s;
    bool mapped = g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff;
    if (mapped) {
      std::snprintf(buf, sizeof(buf), "::ffff:%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
      s = buf;
    } else {
      for (int i = 0; i < 8; ++i) {
        if (i == bestStart) {
          s += "::";
          i += bestLen - 1;
          continue;
        }
        if (!s.empty() && s.back() != ':') s += ':';
        std::snprintf(buf, sizeof(buf), "%x", g[i]);
        s += buf;
      }
    }
    text = s;
    port = NetworkPort(&in6->sin6_port);
  }
}

void ReadRequest(const HTTP_REQUEST_V2* r, ParsedRequest& out) {
  out.id = r->RequestId;
  out.connectionId = r->ConnectionId;
  out.urlContext = r->UrlContext;

  if (r->Verb > HttpVerbInvalid && r->Verb < HttpVerbMaximum) {
    out.method = kVerbs[r->Verb];
  } else if (r->pUnknownVerb != nullptr && r->UnknownVerbLength > 0) {
    out.method.assign(r->pUnknownVerb, r->UnknownVerbLength);
  } else {
    out.method = "";
  }
  if (r->pRawUrl != nullptr) out.rawUrl.assign(r->pRawUrl, r->RawUrlLength);
  out.host = StripPort(Utf8(r->CookedUrl.pHost, r->CookedUrl.HostLength / sizeof(WCHAR)));

  out.http2 = (r->Flags & kRequestHttp2) != 0;
  if (out.http2) {
    out.httpVersion = "2.0";
  } else {
    char v[16];
    std::snprintf(v, sizeof(v), "%u.%u", r->Version.MajorVersion, r->Version.MinorVersion);
    out.httpVersion = v;
  }

  const HTTP_REQUEST_HEADERS& h = r->Headers;
  size_t count = 0;
  for (int i = 0; i < HttpHeaderRequestMaximum; ++i) {
    if (h.KnownHeaders[i].pRawValue != nullptr) ++count;
  }
  out.headers.reserve(2 * (count + h.UnknownHeaderCount));
  for (int i = 0; i < HttpHeaderRequestMaximum; ++i) {
    const HTTP_KNOWN_HEADER& k = h.KnownHeaders[i];
    if (k.pRawValue == nullptr) continue;
    out.headers.emplace_back(kKnownRequestHeaders[i]);
    out.headers.emplace_back(k.pRawValue, k.RawValueLength);
  }
  if (h.pUnknownHeaders != nullptr) {
    for (USHORT i = 0; i < h.UnknownHeaderCount; ++i) {
      const HTTP_UNKNOWN_HEADER& u = h.pUnknownHeaders[i];
      if (u.pName == nullptr) continue;
      out.headers.push_back(Lowered(u.pName, u.NameLength));
      out.headers.emplace_back(u.pRawValue != nullptr ? std::string(u.pRawValue, u.RawValueLength) : std::string());
    }
  }

  FormatAddress(r->Address.pRemoteAddress, out.remoteAddress, out.remotePort);
  FormatAddress(r->Address.pLocalAddress, out.localAddress, out.localPort);

  out.secure = r->pSslInfo != nullptr;
  if (r->pRequestInfo != nullptr) {
    for (USHORT i = 0; i < r->RequestInfoCount; ++i) {
      const HTTP_REQUEST_INFO& info = r->pRequestInfo[i];
      if (static_cast<int>(info.InfoType) == kRequestInfoSslProtocol && info.pInfo != nullptr &&
          info.InfoLength >= sizeof(SslProtocolInfo)) {
        std::memcpy(&out.tls, info.pInfo, sizeof(SslProtocolInfo));
        out.hasTls = true;
      }
    }
  }

  if (r->pEntityChunks != nullptr && r->EntityChunkCount > 0) {
    size_t total = 0;
    for (USHORT i = 0; i < r->EntityChunkCount; ++i) {
      const HTTP_DATA_CHUNK& c = r->pEntityChunks[i];
      if (c.DataChunkType == HttpDataChunkFromMemory) total += c.FromMemory.BufferLength;
    }
    out.body.reserve(total);
    for (USHORT i = 0; i < r->EntityChunkCount; ++i) {
      const HTTP_DATA_CHUNK& c = r->pEntityChunks[i];
      if (c.DataChunkType != HttpDataChunkFromMemory || c.FromMemory.pBuffer == nullptr) continue;
      const auto* p = static_cast<const uint8_t*>(c.FromMemory.pBuffer);
      out.body.insert(out.body.end(), p, p + c.FromMemory.BufferLength);
    }
    out.hasBody = !out.body.empty();
  }
  out.moreBody = (r->Flags & kRequestMoreEntityBody) != 0;
}

}  // namespace hsys
