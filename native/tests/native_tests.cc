// Checks, field by field, the structures the addon hands to Http.sys: the
// HTTP_RESPONSE and data chunks for a gRPC response with trailers, a 101
// opaque upgrade and a streamed body; rejection of bad input; the request
// reader on a hand-made HTTP_REQUEST; and the Win32 error sentences.
// Prints "ok - <name>" or "not ok - <name>: <detail>" per check; exit code 1 on any failure.
#include "http_compat.h"
#include "request_reader.h"
#include "response_builder.h"
#include "win_errors.h"

#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

using namespace hsys;

namespace {

int failures = 0;
int checks = 0;

void Report(bool ok, const std::string& name, const std::string& detail) {
  ++checks;
  if (ok) {
    std::printf("ok - %s\n", name.c_str());
  } else {
    ++failures;
    std::printf("not ok - %s: %s\n", name.c_str(), detail.c_str());
  }
}

template <typename A, typename B>
void Equal(const std::string& name, const A& actual, const B& expected) {
  std::ostringstream d;
  bool ok = actual == expected;
  if (!ok) d << "expected " << expected << ", got " << actual;
  Report(ok, name, d.str());
}

void True(const std::string& name, bool value, const std::string& detail = "condition is false") {
  Report(value, name, detail);
}

std::string Str(const char* p, size_t n) { return p == nullptr ? std::string("<null>") : std::string(p, n); }

Bytes B(const std::string& s) {
  Bytes b;
  b.data = reinterpret_cast<const uint8_t*>(s.data());
  b.length = s.size();
  return b;
}

// Layouts from the Windows SDK, checked at compile time too (http_compat.h).
static_assert(sizeof(DataChunk) == 32, "HTTP_DATA_CHUNK size");
static_assert(offsetof(DataChunk, Trailers.TrailerCount) == 8, "TrailerCount offset");
static_assert(offsetof(DataChunk, Trailers.pTrailers) == 16, "pTrailers offset");
static_assert(sizeof(HTTP_REQUEST_V2) == 864, "HTTP_REQUEST_V2 size");

void TestLayouts() {
  Equal("layout: sizeof(HTTP_DATA_CHUNK)", sizeof(DataChunk), 32u);
  Equal("layout: HTTP_DATA_CHUNK union offset", offsetof(DataChunk, FromMemory), 8u);
  Equal("layout: Trailers.TrailerCount offset", offsetof(DataChunk, Trailers.TrailerCount), 8u);
  Equal("layout: Trailers.pTrailers offset", offsetof(DataChunk, Trailers.pTrailers), 16u);
  Equal("layout: sizeof(HTTP_REQUEST_V2)", sizeof(HTTP_REQUEST_V2), 864u);
  const HTTP_REQUEST_V2 probe{};
  const char* base = reinterpret_cast<const char*>(&probe);
  Equal("layout: HTTP_REQUEST_V2.RequestInfoCount offset",
        static_cast<size_t>(reinterpret_cast<const char*>(&probe.RequestInfoCount) - base), 848u);
  Equal("layout: HTTP_REQUEST_V2.pRequestInfo offset",
        static_cast<size_t>(reinterpret_cast<const char*>(&probe.pRequestInfo) - base), 856u);
  Equal("layout: sizeof(HTTP_RESPONSE_V1)", sizeof(HTTP_RESPONSE_V1), 552u);
  Equal("layout: sizeof(HTTP_UNKNOWN_HEADER)", sizeof(HTTP_UNKNOWN_HEADER), 24u);
  Equal("value: HttpDataChunkTrailers", kChunkTrailers, 4);
  Equal("value: HTTP_SEND_RESPONSE_FLAG_OPAQUE", kSendOpaque, 0x40ul);
  Equal("value: HTTP_SEND_RESPONSE_FLAG_MORE_DATA", kSendMoreData, 0x2ul);
  Equal("value: HTTP_SEND_RESPONSE_FLAG_BUFFER_DATA", kSendBufferData, 0x4ul);
  Equal("value: HTTP_SEND_RESPONSE_FLAG_DISCONNECT", kSendDisconnect, 0x1ul);
}

void TestGrpcWithTrailers() {
  const std::string frame("\0\0\0\0\x05hello", 10);
  ResponseSpec spec;
  spec.status = 200;
  spec.headers = {{"content-type", "application/grpc"}, {"grpc-encoding", "identity"}, {"date", "x"}};
  spec.body = {B(frame)};
  spec.trailers = {{"grpc-status", "0"}, {"grpc-message", "OK"}};
  BuiltResponse out;
  std::string e = BuildResponse(spec, out);
  Equal("grpc: builds without error", e, "");
  const HTTP_RESPONSE_V2& r = out.response;
  Equal("grpc: StatusCode", r.StatusCode, 200);
  Equal("grpc: Version 1.1 major", r.Version.MajorVersion, 1);
  Equal("grpc: Version 1.1 minor", r.Version.MinorVersion, 1);
  Equal("grpc: reason", Str(r.pReason, r.ReasonLength), "OK");
  Equal("grpc: Flags field zero", r.Flags, 0ul);
  Equal("grpc: send flags (final send, no MORE_DATA)", out.flags, 0ul);
  const HTTP_KNOWN_HEADER& ct = r.Headers.KnownHeaders[HttpHeaderContentType];
  Equal("grpc: content-type is a known header", Str(ct.pRawValue, ct.RawValueLength), "application/grpc");
  const HTTP_KNOWN_HEADER& date = r.Headers.KnownHeaders[HttpHeaderDate];
  Equal("grpc: date is a known header", Str(date.pRawValue, date.RawValueLength), "x");
  Equal("grpc: one unknown header", r.Headers.UnknownHeaderCount, 1);
  if (r.Headers.UnknownHeaderCount == 1) {
    const HTTP_UNKNOWN_HEADER& u = r.Headers.pUnknownHeaders[0];
    Equal("grpc: unknown header name", Str(u.pName, u.NameLength), "grpc-encoding");
    Equal("grpc: unknown header value", Str(u.pRawValue, u.RawValueLength), "identity");
  }
  int known = 0;
  for (int i = 0; i < HttpHeaderResponseMaximum; ++i) known += r.Headers.KnownHeaders[i].pRawValue != nullptr;
  Equal("grpc: exactly two known headers set", known, 2);
  Equal("grpc: EntityChunkCount (body + trailers)", r.EntityChunkCount, 2);
  const auto* chunks = reinterpret_cast<const DataChunk*>(r.pEntityChunks);
  True("grpc: pEntityChunks points at the chunk array", chunks == out.chunks.data());
  if (r.EntityChunkCount == 2) {
    Equal("grpc: chunk 0 type FromMemory", chunks[0].DataChunkType, kChunkFromMemory);
    True("grpc: chunk 0 points at the caller's bytes (no copy)", chunks[0].FromMemory.pBuffer == frame.data());
    Equal("grpc: chunk 0 length", chunks[0].FromMemory.BufferLength, 10ul);
    Equal("grpc: chunk 1 type Trailers", chunks[1].DataChunkType, kChunkTrailers);
    Equal("grpc: chunk 1 TrailerCount", chunks[1].Trailers.TrailerCount, 2);
    const HTTP_UNKNOWN_HEADER* t = chunks[1].Trailers.pTrailers;
    True("grpc: pTrailers set", t != nullptr);
    if (t != nullptr) {
      Equal("grpc: trailer 0 name", Str(t[0].pName, t[0].NameLength), "grpc-status");
      Equal("grpc: trailer 0 value", Str(t[0].pRawValue, t[0].RawValueLength), "0");
      Equal("grpc: trailer 1 name", Str(t[1].pName, t[1].NameLength), "grpc-message");
      Equal("grpc: trailer 1 value", Str(t[1].pRawValue, t[1].RawValueLength), "OK");
    }
    // The raw bytes at the SDK offsets, as Http.sys reads them.
    const auto* raw = reinterpret_cast<const unsigned char*>(&chunks[1]);
    USHORT countAt8;
    std::memcpy(&countAt8, raw + 8, sizeof(countAt8));
    const void* ptrAt16;
    std::memcpy(&ptrAt16, raw + 16, sizeof(ptrAt16));
    Equal("grpc: trailer count at byte offset 8", countAt8, 2);
    True("grpc: trailer pointer at byte offset 16", ptrAt16 == t);
  }
}

void TestGrpcTrailersOnly() {
  ResponseSpec spec;
  spec.status = 200;
  spec.headers = {{"content-type", "application/grpc"}};
  spec.trailers = {{"grpc-status", "12"}, {"grpc-message", "unimplemented"}};
  BuiltResponse out;
  Equal("grpc trailers-only: builds", BuildResponse(spec, out), "");
  Equal("grpc trailers-only: single chunk", out.response.EntityChunkCount, 1);
  if (out.response.EntityChunkCount == 1) {
    const auto* c = reinterpret_cast<const DataChunk*>(out.response.pEntityChunks);
    Equal("grpc trailers-only: chunk is Trailers", c[0].DataChunkType, kChunkTrailers);
    Equal("grpc trailers-only: TrailerCount", c[0].Trailers.TrailerCount, 2);
  }
}

void TestOpaqueUpgrade() {
  ResponseSpec spec;
  spec.status = 101;
  spec.opaque = true;
  spec.headers = {{"upgrade", "websocket"}, {"connection", "Upgrade"}, {"sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}};
  BuiltResponse out;
  Equal("upgrade: builds", BuildResponse(spec, out), "");
  const HTTP_RESPONSE_V2& r = out.response;
  Equal("upgrade: StatusCode", r.StatusCode, 101);
  Equal("upgrade: reason", Str(r.pReason, r.ReasonLength), "Switching Protocols");
  Equal("upgrade: flags OPAQUE|MORE_DATA|BUFFER_DATA", out.flags, kSendOpaque | kSendMoreData | kSendBufferData);
  True("upgrade: Connection is not a known header", r.Headers.KnownHeaders[HttpHeaderConnection].pRawValue == nullptr);
  const HTTP_KNOWN_HEADER& up = r.Headers.KnownHeaders[HttpHeaderUpgrade];
  Equal("upgrade: Upgrade known header", Str(up.pRawValue, up.RawValueLength), "websocket");
  Equal("upgrade: two unknown headers", r.Headers.UnknownHeaderCount, 2);
  bool sawConnection = false;
  for (USHORT i = 0; i < r.Headers.UnknownHeaderCount; ++i) {
    const HTTP_UNKNOWN_HEADER& u = r.Headers.pUnknownHeaders[i];
    if (Str(u.pName, u.NameLength) == "connection") {
      sawConnection = Str(u.pRawValue, u.RawValueLength) == "Upgrade";
    }
  }
  True("upgrade: Connection: Upgrade sent as an unknown header", sawConnection);
  Equal("upgrade: no entity chunks", r.EntityChunkCount, 0);
  True("upgrade: pEntityChunks null", r.pEntityChunks == nullptr);
  // Raw writes after the upgrade: a body send with MORE_DATA, the last with DISCONNECT.
  const std::string frame("\x81\x02hi", 4);
  BodySpec write;
  write.body = {B(frame)};
  write.moreData = true;
  BuiltBody w;
  Equal("upgrade: raw write builds", BuildBody(write, w), "");
  Equal("upgrade: raw write flags MORE_DATA", w.flags, kSendMoreData);
  Equal("upgrade: raw write chunk count", w.chunkCount(), 1);
  BodySpec last;
  last.disconnect = true;
  BuiltBody l;
  Equal("upgrade: last write builds", BuildBody(last, l), "");
  Equal("upgrade: last write flags DISCONNECT", l.flags, kSendDisconnect);
  Equal("upgrade: last write has no chunks", l.chunkCount(), 0);
  True("upgrade: last write chunk pointer null", l.chunkPointer() == nullptr);
}

void TestStreamedBody() {
  ResponseSpec head;
  head.status = 200;
  head.headers = {{"content-type", "text/plain"}, {"set-cookie", "a=1"}, {"set-cookie", "b=2"}};
  head.moreData = true;
  BuiltResponse h;
  Equal("stream: headers build", BuildResponse(head, h), "");
  Equal("stream: first send flags MORE_DATA", h.flags, kSendMoreData);
  Equal("stream: first send has no chunks", h.response.EntityChunkCount, 0);
  const HTTP_KNOWN_HEADER& sc = h.response.Headers.KnownHeaders[HttpHeaderSetCookie];
  Equal("stream: first set-cookie known", Str(sc.pRawValue, sc.RawValueLength), "a=1");
  Equal("stream: repeated set-cookie kept as unknown", h.response.Headers.UnknownHeaderCount, 1);
  if (h.response.Headers.UnknownHeaderCount == 1) {
    const HTTP_UNKNOWN_HEADER& u = h.response.Headers.pUnknownHeaders[0];
    Equal("stream: repeated set-cookie value", Str(u.pRawValue, u.RawValueLength), "b=2");
  }
  const std::string a = "part one,", b = "", c = "part two";
  BodySpec mid;
  mid.body = {B(a), B(b), B(c)};
  mid.moreData = true;
  BuiltBody m;
  Equal("stream: middle send builds", BuildBody(mid, m), "");
  Equal("stream: middle send flags MORE_DATA", m.flags, kSendMoreData);
  Equal("stream: empty chunks dropped", m.chunkCount(), 2);
  if (m.chunkCount() == 2) {
    Equal("stream: chunk 0 length", m.chunks[0].FromMemory.BufferLength, 9ul);
    Equal("stream: chunk 1 length", m.chunks[1].FromMemory.BufferLength, 8ul);
    True("stream: chunk 1 points at caller bytes", m.chunks[1].FromMemory.pBuffer == c.data());
  }
  BodySpec fin;
  fin.trailers = {{"grpc-status", "0"}};
  BuiltBody f;
  Equal("stream: final send with trailers builds", BuildBody(fin, f), "");
  Equal("stream: final send flags none", f.flags, 0ul);
  Equal("stream: final send single trailer chunk", f.chunkCount(), 1);
  if (f.chunkCount() == 1) {
    Equal("stream: final chunk type Trailers", f.chunks[0].DataChunkType, kChunkTrailers);
    Equal("stream: final TrailerCount", f.chunks[0].Trailers.TrailerCount, 1);
    Equal("stream: final trailer name", Str(f.chunks[0].Trailers.pTrailers[0].pName, 11), "grpc-status");
  }
}

void Rejects(const std::string& name, const ResponseSpec& spec, const std::string& mustContain) {
  BuiltResponse out;
  std::string e = BuildResponse(spec, out);
  Report(!e.empty() && e.find(mustContain) != std::string::npos, "reject: " + name,
         e.empty() ? "accepted" : "message was: " + e);
}

void TestValidation() {
  ResponseSpec s;
  s.status = 99;
  Rejects("status below 100", s, "status");
  s.status = 1000;
  Rejects("status above 999", s, "status");
  s = ResponseSpec();
  s.opaque = true;
  Rejects("opaque without 101", s, "101");
  s = ResponseSpec();
  s.status = 101;
  s.opaque = true;
  s.trailers = {{"a", "b"}};
  Rejects("opaque with trailers", s, "trailers");
  s = ResponseSpec();
  s.moreData = true;
  s.trailers = {{"grpc-status", "0"}};
  Rejects("trailers on a non-final send", s, "final");
  s = ResponseSpec();
  s.moreData = true;
  s.disconnect = true;
  Rejects("disconnect with moreData", s, "final");
  s = ResponseSpec();
  s.headers = {{"x-bad", "a\r\nInjected: 1"}};
  Rejects("CR/LF in a header value", s, "CR, LF or NUL");
  s.headers = {{"x-nul", std::string("a\0b", 3)}};
  Rejects("NUL in a header value", s, "CR, LF or NUL");
  s.headers = {{"bad name", "v"}};
  Rejects("space in a header name", s, "not allowed");
  s.headers = {{"", "v"}};
  Rejects("empty header name", s, "empty");
  s.headers = {{"x-long", std::string(70000, 'a')}};
  Rejects("header value over 65535 bytes", s, "65535");
  s.headers = {};
  s.hasReason = true;
  s.reason = "OK\r\n";
  Rejects("CR/LF in the reason", s, "reason");
  s = ResponseSpec();
  s.trailers = {{"grpc-status", "0\n"}};
  Rejects("LF in a trailer value", s, "trailers");
  s = ResponseSpec();
  std::vector<Bytes> many(70000, Bytes{reinterpret_cast<const uint8_t*>("x"), 1});
  s.body = many;
  Rejects("more than 65535 chunks", s, "chunks");
  s = ResponseSpec();
  s.body = {Bytes{nullptr, 5}};
  Rejects("chunk with length but no data", s, "no data");

  BodySpec b;
  b.moreData = true;
  b.trailers = {{"grpc-status", "0"}};
  BuiltBody out;
  std::string e = BuildBody(b, out);
  Report(!e.empty(), "reject: body trailers with moreData", e.empty() ? "accepted" : "");

  Equal("known header lookup is case-insensitive", KnownResponseHeaderId("Content-Type"), HttpHeaderContentType);
  Equal("unknown header lookup", KnownResponseHeaderId("grpc-status"), -1);
  Equal("custom reason kept", [] {
    ResponseSpec r;
    r.status = 299;
    r.hasReason = true;
    r.reason = "Fine";
    BuiltResponse o;
    BuildResponse(r, o);
    return Str(o.response.pReason, o.response.ReasonLength);
  }(), "Fine");
}

void TestRequestReader() {
  alignas(8) unsigned char buffer[2048] = {};
  auto* r = reinterpret_cast<HTTP_REQUEST_V2*>(buffer);
  unsigned char* p = buffer + sizeof(HTTP_REQUEST_V2);
  auto put = [&](const void* data, size_t n) {
    unsigned char* at = p;
    std::memcpy(p, data, n);
    p += (n + 7) & ~static_cast<size_t>(7);
    return at;
  };
  r->Flags = kRequestMoreEntityBody | kRequestHttp2;
  r->ConnectionId = 0x1122334455667788ull;
  r->RequestId = 42;
  r->UrlContext = 7;
  r->Version.MajorVersion = 2;
  r->Verb = HttpVerbUnknown;
  const char verb[] = "PURGE";
  r->pUnknownVerb = reinterpret_cast<PCSTR>(put(verb, 5));
  r->UnknownVerbLength = 5;
  const char url[] = "/svc/Method?x=1";
  r->pRawUrl = reinterpret_cast<PCSTR>(put(url, sizeof(url) - 1));
  r->RawUrlLength = sizeof(url) - 1;
  const wchar_t host[] = L"[::1]:8443";
  r->CookedUrl.pHost = reinterpret_cast<PCWSTR>(put(host, sizeof(host)));
  r->CookedUrl.HostLength = static_cast<USHORT>((sizeof(host) / sizeof(wchar_t) - 1) * sizeof(wchar_t));
  sockaddr_in6 remote{};
  remote.sin6_family = AF_INET6;
  remote.sin6_port = static_cast<USHORT>((54321 >> 8) | ((54321 & 0xff) << 8));
  remote.sin6_addr.s6_addr[15] = 1;
  r->Address.pRemoteAddress = reinterpret_cast<PSOCKADDR>(put(&remote, sizeof(remote)));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = static_cast<USHORT>((8443 >> 8) | ((8443 & 0xff) << 8));
  const unsigned char ip[4] = {10, 0, 0, 5};
  std::memcpy(&local.sin_addr, ip, 4);
  r->Address.pLocalAddress = reinterpret_cast<PSOCKADDR>(put(&local, sizeof(local)));
  const char ctype[] = "application/grpc";
  r->Headers.KnownHeaders[HttpHeaderContentType].pRawValue = reinterpret_cast<PCSTR>(put(ctype, 16));
  r->Headers.KnownHeaders[HttpHeaderContentType].RawValueLength = 16;
  HTTP_UNKNOWN_HEADER unk[2] = {};
  const char n1[] = "X-Trace", v1[] = "a", v2[] = "b";
  unk[0].pName = reinterpret_cast<PCSTR>(put(n1, 7));
  unk[0].NameLength = 7;
  unk[0].pRawValue = reinterpret_cast<PCSTR>(put(v1, 1));
  unk[0].RawValueLength = 1;
  unk[1] = unk[0];
  unk[1].pRawValue = reinterpret_cast<PCSTR>(put(v2, 1));
  r->Headers.pUnknownHeaders = reinterpret_cast<PHTTP_UNKNOWN_HEADER>(put(unk, sizeof(unk)));
  r->Headers.UnknownHeaderCount = 2;
  const char body[] = "\0\0\0\0\x01z";
  HTTP_DATA_CHUNK chunk{};
  chunk.DataChunkType = HttpDataChunkFromMemory;
  chunk.FromMemory.pBuffer = put(body, 6);
  chunk.FromMemory.BufferLength = 6;
  r->pEntityChunks = reinterpret_cast<PHTTP_DATA_CHUNK>(put(&chunk, sizeof(chunk)));
  r->EntityChunkCount = 1;
  HTTP_SSL_INFO ssl{};
  r->pSslInfo = reinterpret_cast<PHTTP_SSL_INFO>(put(&ssl, sizeof(ssl)));
  SslProtocolInfo proto{0x800, 0x6610, 256, 0, 0, 0xae06, 255};
  HTTP_REQUEST_INFO info{};
  info.InfoType = static_cast<HTTP_REQUEST_INFO_TYPE>(kRequestInfoSslProtocol);
  info.InfoLength = sizeof(proto);
  info.pInfo = put(&proto, sizeof(proto));
  r->pRequestInfo = reinterpret_cast<PHTTP_REQUEST_INFO>(put(&info, sizeof(info)));
  r->RequestInfoCount = 1;

  ParsedRequest out;
  ReadRequest(r, out);
  Equal("request: id", out.id, 42ull);
  Equal("request: connection id", out.connectionId, 0x1122334455667788ull);
  Equal("request: url context", out.urlContext, 7ull);
  Equal("request: unknown verb kept", out.method, "PURGE");
  Equal("request: raw url", out.rawUrl, "/svc/Method?x=1");
  Equal("request: host without port", out.host, "[::1]");
  Equal("request: http2 flag", out.http2, true);
  Equal("request: version 2.0", out.httpVersion, "2.0");
  Equal("request: header count (1 known + 2 unknown)", out.headers.size(), 6u);
  if (out.headers.size() == 6) {
    Equal("request: known header name lower-case", out.headers[0], "content-type");
    Equal("request: unknown header name lower-cased", out.headers[2], "x-trace");
    Equal("request: repeated header kept (1)", out.headers[3], "a");
    Equal("request: repeated header kept (2)", out.headers[5], "b");
  }
  Equal("request: IPv6 remote address", out.remoteAddress, "::1");
  Equal("request: remote port", out.remotePort, 54321);
  Equal("request: IPv4 local address", out.localAddress, "10.0.0.5");
  Equal("request: local port", out.localPort, 8443);
  Equal("request: secure", out.secure, true);
  Equal("request: TLS protocol from request info", out.tls.Protocol, 0x800ul);
  Equal("request: TLS cipher strength", out.tls.CipherStrength, 256ul);
  Equal("request: body bytes", out.body.size(), 6u);
  Equal("request: more body", out.moreBody, true);

  HTTP_REQUEST_V2 plain{};
  plain.Verb = HttpVerbGET;
  plain.Version.MajorVersion = 1;
  plain.Version.MinorVersion = 1;
  ParsedRequest o2;
  ReadRequest(&plain, o2);
  Equal("request: GET verb", o2.method, "GET");
  Equal("request: version 1.1", o2.httpVersion, "1.1");
  Equal("request: no body", o2.hasBody, false);
  Equal("request: not secure", o2.secure, false);
  Equal("request: no address gives empty text", o2.remoteAddress, "");

  std::string text;
  uint16_t port = 0;
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  const unsigned char addr[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
  std::memcpy(&v6.sin6_addr, addr, 16);
  FormatAddress(reinterpret_cast<const SOCKADDR*>(&v6), text, port);
  Equal("address: RFC 5952 compression", text, "2001:db8::1:0:0:1");
  Equal("host: strip port", StripPort("example.com:8080"), "example.com");
  Equal("host: keep bare host", StripPort("example.com"), "example.com");
}

void TestErrors() {
  ErrorContext ctx;
  ctx.prefix = "http://+:8080/api/";
  ctx.user = "CONTOSO\\svc";
  ErrorText t = DescribeWin32Error("HttpAddUrlToUrlGroup", 5, ctx);
  Equal("error 5: code", t.code, "ERROR_ACCESS_DENIED");
  True("error 5: gives the urlacl command",
       t.message.find("netsh http add urlacl url=http://+:8080/api/ user=CONTOSO\\svc") != std::string::npos, t.message);
  t = DescribeWin32Error("HttpAddUrlToUrlGroup", 183, ctx);
  Equal("error 183: code", t.code, "ERROR_ALREADY_EXISTS");
  True("error 183: names IIS / another process", t.message.find("IIS") != std::string::npos, t.message);
  t = DescribeWin32Error("HttpAddUrlToUrlGroup", 87, ctx);
  True("error 87: mentions the trailing slash", t.message.find("slash") != std::string::npos, t.message);
  t = DescribeWin32Error("HttpSendHttpResponse", 1229, ctx);
  Equal("error 1229: code", t.code, "ERROR_CONNECTION_INVALID");
  True("error message starts with the function and code",
       t.message.rfind("HttpSendHttpResponse failed with 1229 (ERROR_CONNECTION_INVALID): ", 0) == 0, t.message);
  t = DescribeWin32Error("HttpCancelHttpRequest", 1168, ctx);
  Equal("error 1168: code", t.code, "ERROR_NOT_FOUND");
  Equal("unknown code name", Win32ErrorName(99999), "ERROR_99999");
}

}  // namespace

// What the addon passes to the calls only Windows can run (reset, feature probes,
// request info, named queues, queue and URL group properties), against the SDK.
template <typename T>
size_t At(const T& object, const void* member) {
  return static_cast<size_t>(static_cast<const char*>(member) - reinterpret_cast<const char*>(&object));
}

void TestWindowsOnlyValues() {
  Equal("value: HttpRequestPropertyStreamError", kRequestPropertyStreamError, 5);
  Equal("layout: sizeof(HTTP_REQUEST_PROPERTY_STREAM_ERROR)", sizeof(StreamError), 4u);
  Equal("value: HttpFeatureResponseTrailers", kFeatureResponseTrailers, 1);
  Equal("value: HttpFeatureDelegateEx", kFeatureDelegateEx, 3);
  Equal("value: HTTP_REQUEST_FLAG_MORE_ENTITY_BODY_EXISTS", kRequestMoreEntityBody, 0x1ul);
  Equal("value: HTTP_REQUEST_FLAG_HTTP2", kRequestHttp2, 0x4ul);
  Equal("value: HTTP_CREATE_REQUEST_QUEUE_FLAG_OPEN_EXISTING", kQueueOpenExisting, 0x1ul);
  Equal("value: HTTP_RECEIVE_REQUEST_FLAG_COPY_BODY", kReceiveCopyBody, 0x1ul);
  Equal("value: HttpRequestInfoTypeSslProtocol", kRequestInfoSslProtocol, 2);
  Equal("value: HTTP_INITIALIZE_SERVER", static_cast<unsigned long>(HTTP_INITIALIZE_SERVER), 0x1ul);
  const HTTPAPI_VERSION v2 = HTTPAPI_VERSION_2;
  Equal("value: HTTPAPI_VERSION_2 major", v2.HttpApiMajorVersion, 2);
  Equal("value: HTTPAPI_VERSION_2 minor", v2.HttpApiMinorVersion, 0);
  Equal("value: HttpServerQosProperty", static_cast<int>(HttpServerQosProperty), 2);
  Equal("value: HttpServerTimeoutsProperty", static_cast<int>(HttpServerTimeoutsProperty), 3);
  Equal("value: HttpServerQueueLengthProperty", static_cast<int>(HttpServerQueueLengthProperty), 4);
  Equal("value: HttpServer503VerbosityProperty", static_cast<int>(HttpServer503VerbosityProperty), 6);
  Equal("value: HttpServerBindingProperty", static_cast<int>(HttpServerBindingProperty), 7);
  Equal("value: HttpQosSettingTypeConnectionLimit", static_cast<int>(HttpQosSettingTypeConnectionLimit), 1);

  const HTTP_REQUEST_INFO info{};
  Equal("layout: sizeof(HTTP_REQUEST_INFO)", sizeof(info), 16u);
  Equal("layout: HTTP_REQUEST_INFO.InfoLength offset", At(info, &info.InfoLength), 4u);
  Equal("layout: HTTP_REQUEST_INFO.pInfo offset", At(info, &info.pInfo), 8u);
  const SslProtocolInfo ssl{};
  Equal("layout: HTTP_SSL_PROTOCOL_INFO.CipherType offset", At(ssl, &ssl.CipherType), 4u);
  Equal("layout: HTTP_SSL_PROTOCOL_INFO.HashType offset", At(ssl, &ssl.HashType), 12u);
  Equal("layout: HTTP_SSL_PROTOCOL_INFO.KeyExchangeType offset", At(ssl, &ssl.KeyExchangeType), 20u);
  Equal("layout: HTTP_SSL_PROTOCOL_INFO.KeyExchangeStrength offset", At(ssl, &ssl.KeyExchangeStrength), 24u);
  const HTTP_TIMEOUT_LIMIT_INFO timeouts{};
  Equal("layout: HTTP_TIMEOUT_LIMIT_INFO.EntityBody offset", At(timeouts, &timeouts.EntityBody), 4u);
  Equal("layout: HTTP_TIMEOUT_LIMIT_INFO.HeaderWait offset", At(timeouts, &timeouts.HeaderWait), 12u);
  Equal("layout: HTTP_TIMEOUT_LIMIT_INFO.MinSendRate offset", At(timeouts, &timeouts.MinSendRate), 16u);
  const HTTP_BINDING_INFO binding{};
  Equal("layout: HTTP_BINDING_INFO.RequestQueueHandle offset", At(binding, &binding.RequestQueueHandle), 8u);
  const HTTP_QOS_SETTING_INFO qos{};
  Equal("layout: sizeof(HTTP_QOS_SETTING_INFO)", sizeof(qos), 16u);
  Equal("layout: HTTP_QOS_SETTING_INFO.QosSetting offset", At(qos, &qos.QosSetting), 8u);
  const HTTP_CONNECTION_LIMIT_INFO limit{};
  Equal("layout: sizeof(HTTP_CONNECTION_LIMIT_INFO)", sizeof(limit), 8u);
  Equal("layout: HTTP_CONNECTION_LIMIT_INFO.MaxConnections offset", At(limit, &limit.MaxConnections), 4u);
  const HTTP_REQUEST_V2 request{};
  Equal("layout: HTTP_REQUEST.Flags offset", At(request, &request.Flags), 0u);
  Equal("layout: HTTP_REQUEST.ConnectionId offset", At(request, &request.ConnectionId), 8u);
  Equal("layout: HTTP_REQUEST.Verb offset", At(request, &request.Verb), 36u);
  Equal("layout: HTTP_REQUEST.pRawUrl offset", At(request, &request.pRawUrl), 56u);
  Equal("layout: HTTP_REQUEST.BytesReceived offset", At(request, &request.BytesReceived), 808u);
  Equal("layout: HTTP_REQUEST.pEntityChunks offset", At(request, &request.pEntityChunks), 824u);
  Equal("layout: HTTP_REQUEST.RawConnectionId offset", At(request, &request.RawConnectionId), 832u);
}

int main() {
  TestLayouts();
  TestWindowsOnlyValues();
  TestGrpcWithTrailers();
  TestGrpcTrailersOnly();
  TestOpaqueUpgrade();
  TestStreamedBody();
  TestValidation();
  TestRequestReader();
  TestErrors();
  std::printf("# %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
