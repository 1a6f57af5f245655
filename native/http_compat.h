// Definitions from the current Windows SDK's http.h that MinGW-w64's http.h
// lacks (its copy predates HTTP/2, trailers and request properties). They live
// in namespace hsys under their own names, so this header compiles unchanged
// against either header. Layouts are pinned with static_asserts below.
#pragma once

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <http.h>

#include <cstddef>

namespace hsys {

// HTTP_DATA_CHUNK_TYPE values.
constexpr int kChunkFromMemory = 0;
constexpr int kChunkTrailers = 4;  // HttpDataChunkTrailers

// HTTP_DATA_CHUNK with the Trailers member of the union (SDK 10.0.20348+).
struct DataChunk {
  int DataChunkType;  // HTTP_DATA_CHUNK_TYPE
  union {
    struct {
      PVOID pBuffer;
      ULONG BufferLength;
    } FromMemory;
    struct {
      HTTP_BYTE_RANGE ByteRange;
      HANDLE FileHandle;
    } FromFileHandle;
    struct {
      USHORT FragmentNameLength;
      PCWSTR pFragmentName;
    } FromFragmentCache;
    struct {
      USHORT TrailerCount;
      PHTTP_UNKNOWN_HEADER pTrailers;
    } Trailers;
  };
};

// HTTP_SEND_RESPONSE_FLAG_*
constexpr ULONG kSendDisconnect = 0x00000001;
constexpr ULONG kSendMoreData = 0x00000002;
constexpr ULONG kSendBufferData = 0x00000004;
constexpr ULONG kSendEnableNagling = 0x00000008;
constexpr ULONG kSendProcessRanges = 0x00000020;
constexpr ULONG kSendOpaque = 0x00000040;
constexpr ULONG kSendGoAway = 0x00000100;

// HTTP_RECEIVE_REQUEST_FLAG_*
constexpr ULONG kReceiveCopyBody = 0x00000001;
constexpr ULONG kReceiveFlushBody = 0x00000002;

// HTTP_CREATE_REQUEST_QUEUE_FLAG_*
constexpr ULONG kQueueOpenExisting = 0x00000001;
constexpr ULONG kQueueController = 0x00000002;
constexpr ULONG kQueueDelegation = 0x00000008;

// HTTP_REQUEST_FLAG_*
constexpr ULONG kRequestMoreEntityBody = 0x00000001;
constexpr ULONG kRequestIpRouted = 0x00000002;
constexpr ULONG kRequestHttp2 = 0x00000004;
constexpr ULONG kRequestHttp3 = 0x00000008;

// HTTP_REQUEST_INFO_TYPE
constexpr int kRequestInfoSslProtocol = 2;

// HTTP_SSL_PROTOCOL_INFO
struct SslProtocolInfo {
  ULONG Protocol;
  ULONG CipherType;  // ALG_ID
  ULONG CipherStrength;
  ULONG HashType;  // ALG_ID
  ULONG HashStrength;
  ULONG KeyExchangeType;  // ALG_ID
  ULONG KeyExchangeStrength;
};

// HTTP_REQUEST_PROPERTY
constexpr int kRequestPropertyStreamError = 5;

// HTTP_REQUEST_PROPERTY_STREAM_ERROR
struct StreamError {
  ULONG ErrorCode;
};

// HTTP_FEATURE_ID
constexpr int kFeatureResponseTrailers = 1;
constexpr int kFeatureDelegateEx = 3;

// Run-time resolved signatures (all of httpapi.dll is resolved at run time).
using HttpInitializeFn = ULONG(WINAPI*)(HTTPAPI_VERSION, ULONG, PVOID);
using HttpCreateServerSessionFn = ULONG(WINAPI*)(HTTPAPI_VERSION, PHTTP_SERVER_SESSION_ID, ULONG);
using HttpCloseServerSessionFn = ULONG(WINAPI*)(HTTP_SERVER_SESSION_ID);
using HttpCreateUrlGroupFn = ULONG(WINAPI*)(HTTP_SERVER_SESSION_ID, PHTTP_URL_GROUP_ID, ULONG);
using HttpCloseUrlGroupFn = ULONG(WINAPI*)(HTTP_URL_GROUP_ID);
using HttpAddUrlToUrlGroupFn = ULONG(WINAPI*)(HTTP_URL_GROUP_ID, PCWSTR, HTTP_URL_CONTEXT, ULONG);
using HttpRemoveUrlFromUrlGroupFn = ULONG(WINAPI*)(HTTP_URL_GROUP_ID, PCWSTR, ULONG);
using HttpSetUrlGroupPropertyFn = ULONG(WINAPI*)(HTTP_URL_GROUP_ID, HTTP_SERVER_PROPERTY, PVOID, ULONG);
using HttpCreateRequestQueueFn = ULONG(WINAPI*)(HTTPAPI_VERSION, PCWSTR, PSECURITY_ATTRIBUTES, ULONG, PHANDLE);
using HttpCloseRequestQueueFn = ULONG(WINAPI*)(HANDLE);
using HttpSetRequestQueuePropertyFn = ULONG(WINAPI*)(HANDLE, HTTP_SERVER_PROPERTY, PVOID, ULONG, ULONG, PVOID);
using HttpShutdownRequestQueueFn = ULONG(WINAPI*)(HANDLE);
using HttpReceiveHttpRequestFn = ULONG(WINAPI*)(HANDLE, HTTP_REQUEST_ID, ULONG, PHTTP_REQUEST, ULONG, PULONG,
                                                LPOVERLAPPED);
using HttpReceiveRequestEntityBodyFn = ULONG(WINAPI*)(HANDLE, HTTP_REQUEST_ID, ULONG, PVOID, ULONG, PULONG,
                                                      LPOVERLAPPED);
using HttpSendHttpResponseFn = ULONG(WINAPI*)(HANDLE, HTTP_REQUEST_ID, ULONG, PHTTP_RESPONSE, PVOID, PULONG, PVOID,
                                              ULONG, LPOVERLAPPED, PVOID);
using HttpSendResponseEntityBodyFn = ULONG(WINAPI*)(HANDLE, HTTP_REQUEST_ID, ULONG, USHORT, PHTTP_DATA_CHUNK,
                                                    PULONG, PVOID, ULONG, LPOVERLAPPED, PVOID);
using HttpCancelHttpRequestFn = ULONG(WINAPI*)(HANDLE, HTTP_REQUEST_ID, LPOVERLAPPED);
using HttpWaitForDisconnectFn = ULONG(WINAPI*)(HANDLE, HTTP_CONNECTION_ID, LPOVERLAPPED);
using HttpWaitForDisconnectExFn = ULONG(WINAPI*)(HANDLE, HTTP_CONNECTION_ID, ULONG, LPOVERLAPPED);
using HttpSetRequestPropertyFn = ULONG(WINAPI*)(HANDLE, HTTP_OPAQUE_ID, int, PVOID, ULONG, LPOVERLAPPED);
using HttpIsFeatureSupportedFn = BOOL(WINAPI*)(int);
using HttpDelegateRequestExFn = ULONG(WINAPI*)(HANDLE, HANDLE, HTTP_REQUEST_ID, HTTP_URL_GROUP_ID, ULONG, PVOID);

#if defined(_WIN64)
static_assert(sizeof(DataChunk) == 32, "HTTP_DATA_CHUNK is 32 bytes on x64");
static_assert(alignof(DataChunk) == 8, "HTTP_DATA_CHUNK is 8-byte aligned on x64");
static_assert(offsetof(DataChunk, FromMemory) == 8, "HTTP_DATA_CHUNK union at +8");
static_assert(offsetof(DataChunk, Trailers.TrailerCount) == 8, "TrailerCount at +8");
static_assert(offsetof(DataChunk, Trailers.pTrailers) == 16, "pTrailers at +16");
static_assert(offsetof(DataChunk, FromMemory.BufferLength) == 16, "BufferLength at +16");
static_assert(sizeof(DataChunk) == sizeof(HTTP_DATA_CHUNK), "DataChunk matches the header's HTTP_DATA_CHUNK");
static_assert(sizeof(HTTP_UNKNOWN_HEADER) == 24, "HTTP_UNKNOWN_HEADER is 24 bytes on x64");
static_assert(offsetof(HTTP_UNKNOWN_HEADER, pName) == 8, "HTTP_UNKNOWN_HEADER.pName at +8");
static_assert(sizeof(HTTP_KNOWN_HEADER) == 16, "HTTP_KNOWN_HEADER is 16 bytes on x64");
static_assert(sizeof(HTTP_REQUEST_V1) == 848, "HTTP_REQUEST_V1 is 848 bytes on x64");
static_assert(sizeof(HTTP_REQUEST_V2) == 864, "HTTP_REQUEST_V2 is 864 bytes on x64");
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
#endif
static_assert(offsetof(HTTP_REQUEST_V2, RequestInfoCount) == 848, "RequestInfoCount at +848");
static_assert(offsetof(HTTP_REQUEST_V2, pRequestInfo) == 856, "pRequestInfo at +856");
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
static_assert(offsetof(HTTP_REQUEST_V1, RequestId) == 16, "HTTP_REQUEST.RequestId at +16");
static_assert(offsetof(HTTP_REQUEST_V1, UrlContext) == 24, "HTTP_REQUEST.UrlContext at +24");
static_assert(offsetof(HTTP_REQUEST_V1, Headers) == 120, "HTTP_REQUEST.Headers at +120");
static_assert(offsetof(HTTP_REQUEST_V1, CookedUrl) == 64, "HTTP_REQUEST.CookedUrl at +64");
static_assert(offsetof(HTTP_REQUEST_V1, Address) == 104, "HTTP_REQUEST.Address at +104");
static_assert(offsetof(HTTP_REQUEST_V1, EntityChunkCount) == 816, "HTTP_REQUEST.EntityChunkCount at +816");
static_assert(offsetof(HTTP_REQUEST_V1, pSslInfo) == 840, "HTTP_REQUEST.pSslInfo at +840");
static_assert(sizeof(HTTP_RESPONSE_V1) == 552, "HTTP_RESPONSE_V1 is 552 bytes on x64");
static_assert(offsetof(HTTP_RESPONSE_V1, Headers) == 24, "HTTP_RESPONSE.Headers at +24");
static_assert(offsetof(HTTP_RESPONSE_V1, EntityChunkCount) == 536, "HTTP_RESPONSE.EntityChunkCount at +536");
static_assert(offsetof(HTTP_RESPONSE_V1, pEntityChunks) == 544, "HTTP_RESPONSE.pEntityChunks at +544");
static_assert(sizeof(HTTP_RESPONSE_V2) == 568, "HTTP_RESPONSE_V2 is 568 bytes on x64");
static_assert(sizeof(SslProtocolInfo) == 28, "HTTP_SSL_PROTOCOL_INFO is 28 bytes");
static_assert(sizeof(HTTP_TIMEOUT_LIMIT_INFO) == 20, "HTTP_TIMEOUT_LIMIT_INFO is 20 bytes");
static_assert(sizeof(HTTP_BINDING_INFO) == 16, "HTTP_BINDING_INFO is 16 bytes on x64");
#endif

}  // namespace hsys
