// Typed wrappers over libcurl's variadic entry points, which Swift cannot call.
// One function per argument kind, every symbol prefixed `ccurl_`. Logic lives in Swift.
#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>

#pragma clang assume_nonnull begin

/// The libcurl this process runs with (not the headers it was built against): its version, TLS library
/// and features. `CURLVERSION_NOW` is a macro Swift does not import.
static inline const curl_version_info_data *ccurl_version_info(void) {
    return curl_version_info(CURLVERSION_NOW);
}

static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *_Nullable value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *_Nullable value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *_Nullable value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*ccurl_data_callback)(char *_Nullable data, size_t size, size_t count, void *_Nullable userdata);

/// CURLOPT_WRITEFUNCTION or CURLOPT_HEADERFUNCTION.
static inline CURLcode ccurl_easy_setopt_data_callback(CURL *handle, CURLoption option, ccurl_data_callback _Nullable callback) {
    return curl_easy_setopt(handle, option, callback);
}

typedef int (*ccurl_debug_callback)(CURL *_Nullable handle, curl_infotype type, char *_Nullable data, size_t size, void *_Nullable userdata);

/// `CURLOPT_DEBUGFUNCTION`.
static inline CURLcode ccurl_easy_setopt_debug_callback(CURL *handle, ccurl_debug_callback _Nullable callback) {
    return curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, callback);
}

static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_off(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void *_Nullable *_Nonnull value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_string(CURL *handle, CURLINFO info, const char *_Nullable *_Nonnull value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

static inline CURLMcode ccurl_multi_setopt_pointer(CURLM *multi, CURLMoption option, void *_Nullable value) {
    return curl_multi_setopt(multi, option, value);
}

/// CURLMOPT_SOCKETFUNCTION's type: watch `socket` for `what` (CURL_POLL_IN, _OUT, _INOUT) or stop
/// (CURL_POLL_REMOVE). `userp` is CURLMOPT_SOCKETDATA, `socketp` what curl_multi_assign gave the socket.
typedef int (*ccurl_socket_callback)(CURL *_Nullable easy, curl_socket_t socket, int what,
                                     void *_Nullable userp, void *_Nullable socketp);

/// CURLMOPT_TIMERFUNCTION's type: call curl_multi_socket_action(CURL_SOCKET_TIMEOUT) in `timeout_ms`
/// (0: now; -1: no timer). `userp` is CURLMOPT_TIMERDATA.
typedef int (*ccurl_timer_callback)(CURLM *_Nullable multi, long timeout_ms, void *_Nullable userp);

static inline CURLMcode ccurl_multi_setopt_socket_callback(CURLM *multi, ccurl_socket_callback _Nullable callback) {
    return curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, callback);
}

static inline CURLMcode ccurl_multi_setopt_timer_callback(CURLM *multi, ccurl_timer_callback _Nullable callback) {
    return curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, callback);
}

/// The value of response header `name` of the most recent response, or NULL.
static inline const char *_Nullable ccurl_easy_header_value(CURL *handle, const char *name) {
    struct curl_header *header = NULL;
    if (curl_easy_header(handle, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK || header == NULL) {
        return NULL;
    }
    return header->value;
}

static inline curl_socket_t ccurl_socket_timeout(void) { return CURL_SOCKET_TIMEOUT; }
static inline int ccurl_poll_in(void) { return CURL_POLL_IN; }
static inline int ccurl_poll_out(void) { return CURL_POLL_OUT; }
static inline int ccurl_poll_remove(void) { return CURL_POLL_REMOVE; }
static inline int ccurl_cselect_in(void) { return CURL_CSELECT_IN; }
static inline int ccurl_cselect_out(void) { return CURL_CSELECT_OUT; }
static inline int ccurl_cselect_err(void) { return CURL_CSELECT_ERR; }
static inline int ccurl_pause_all(void) { return CURLPAUSE_ALL; }
static inline int ccurl_pause_continue(void) { return CURLPAUSE_CONT; }
static inline size_t ccurl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
static inline long ccurl_pipe_multiplex(void) { return CURLPIPE_MULTIPLEX; }
static inline long ccurl_global_all(void) { return CURL_GLOBAL_ALL; }
static inline long ccurl_http_version_2tls(void) { return CURL_HTTP_VERSION_2TLS; }
static inline long ccurl_proto_http_https(void) { return CURLPROTO_HTTP | CURLPROTO_HTTPS; }

#pragma clang assume_nonnull end

#endif
