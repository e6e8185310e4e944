// Outpost DTLS engine: DTLS 1.2 server sessions over the OpenSSL that Node itself ships and
// exports (no libssl-dev). Node owns the UDP socket; this addon only turns datagrams into
// OpenSSL calls: one SSL per peer, a memory BIO in, a packet-queue BIO out (so datagram
// boundaries survive and records are coalesced up to the MTU). The JS driver
// (gateways/transport/dtls/engine.ts) owns maps, caps, timers and cookie secrets.
//
// Every function is synchronous on the JS thread; the PSK callback calls back into JS during
// feed()/listen() on that same thread.
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define F_OUT 1        // datagrams to send (takeOut)
#define F_PLAIN 2      // decrypted application datagrams (takePlain)
#define F_DONE 4       // handshake completed in this call
#define F_CLOSED 8     // close_notify received
#define F_FATAL 16     // fatal error: forget the session (error string in info())
#define F_ALERT 32     // an alert was sent or received in this call (info().alert)
#define F_ACCEPTED 64  // listen(): the cookie checked out, this SSL is now a session

typedef struct pkt {
  struct pkt *next;
  size_t len, cap;
  unsigned char data[];
} pkt;

typedef struct {
  SSL_CTX *ctx;
  napi_env env;
  napi_ref psk_fn;  // identity -> Buffer | undefined
  int client;       // client mode (load generators and tests): fixed PSK identity and key
  char identity[129];
  unsigned char key[64];
  unsigned int key_len;
  unsigned int retransmit_us;  // first handshake retransmission timeout; doubles up to 60 s
} octx;

typedef struct {
  SSL *ssl;
  BIO *rbio;
  size_t mtu;
  pkt *out_head, *out_tail;
  pkt *in_head, *in_tail;
  int done;
  int flags;  // accumulated during one call
  char alert[96];
  char err[160];
  // Cookies for the listen() in progress (point into JS Buffers for the call's duration).
  const unsigned char *cookie, *prev_cookie;
  size_t cookie_len, prev_cookie_len;
} sess;

static int g_ctx_idx = -1;
static BIO_METHOD *g_out_method = NULL;
static BIO_ADDR *g_listen_addr = NULL;

// ---- packet queues ----

static void q_free(pkt **head, pkt **tail) {
  pkt *p = *head;
  while (p) {
    pkt *n = p->next;
    free(p);
    p = n;
  }
  *head = *tail = NULL;
}

static int q_push(pkt **head, pkt **tail, const unsigned char *data, size_t len, size_t cap) {
  if (cap < len) cap = len;
  pkt *p = malloc(sizeof(pkt) + cap);
  if (!p) return 0;
  p->next = NULL;
  p->len = len;
  p->cap = cap;
  memcpy(p->data, data, len);
  if (*tail) (*tail)->next = p; else *head = p;
  *tail = p;
  return 1;
}

// ---- output BIO: each BIO_write is one DTLS record; coalesce records into datagrams <= MTU ----

static int out_write(BIO *b, const char *data, int len) {
  sess *s = BIO_get_data(b);
  if (!s || len < 0) return -1;
  pkt *t = s->out_tail;
  if (t && t->len + (size_t)len <= t->cap) {
    memcpy(t->data + t->len, data, len);
    t->len += len;
  } else if (!q_push(&s->out_head, &s->out_tail, (const unsigned char *)data, len, s->mtu)) {
    return -1;
  }
  s->flags |= F_OUT;
  return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b; (void)num; (void)ptr;
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING: return 0;
    default: return 0;
  }
}

static int out_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

// ---- callbacks ----

static void info_cb(const SSL *ssl, int where, int ret) {
  if (!(where & SSL_CB_ALERT)) return;
  sess *s = SSL_get_app_data(ssl);
  if (!s) return;
  s->flags |= F_ALERT;
  snprintf(s->alert, sizeof s->alert, "%s %s %s", (where & SSL_CB_READ) ? "received" : "sent",
           SSL_alert_type_string_long(ret), SSL_alert_desc_string_long(ret));
}

static int cookie_gen(SSL *ssl, unsigned char *cookie, unsigned int *len) {
  sess *s = SSL_get_app_data(ssl);
  if (!s || !s->cookie || s->cookie_len > DTLS1_COOKIE_LENGTH) return 0;
  memcpy(cookie, s->cookie, s->cookie_len);
  *len = (unsigned int)s->cookie_len;
  return 1;
}

static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len) {
  sess *s = SSL_get_app_data(ssl);
  if (!s || !s->cookie) return 0;
  if (len == s->cookie_len && CRYPTO_memcmp(cookie, s->cookie, len) == 0) return 1;
  if (s->prev_cookie && len == s->prev_cookie_len && CRYPTO_memcmp(cookie, s->prev_cookie, len) == 0) return 1;
  return 0;
}

static unsigned int psk_cb(SSL *ssl, const char *identity, unsigned char *psk, unsigned int max) {
  octx *c = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_ctx_idx);
  if (!c || !c->psk_fn || !identity) return 0;
  napi_env env = c->env;
  napi_value fn, global, arg, res;
  if (napi_get_reference_value(env, c->psk_fn, &fn) != napi_ok || !fn) return 0;
  napi_get_global(env, &global);
  if (napi_create_string_utf8(env, identity, NAPI_AUTO_LENGTH, &arg) != napi_ok) return 0;
  if (napi_call_function(env, global, fn, 1, &arg, &res) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
    }
    return 0;
  }
  bool isbuf = false;
  napi_is_buffer(env, res, &isbuf);
  if (!isbuf) return 0;
  void *data;
  size_t len;
  napi_get_buffer_info(env, res, &data, &len);
  if (len == 0 || len > max) return 0;
  memcpy(psk, data, len);
  return (unsigned int)len;
}

static unsigned int psk_client_cb(SSL *ssl, const char *hint, char *identity, unsigned int max_id, unsigned char *psk, unsigned int max) {
  (void)hint;
  octx *c = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_ctx_idx);
  size_t il = c ? strlen(c->identity) : 0;
  if (!c || il + 1 > max_id || c->key_len > max) return 0;
  memcpy(identity, c->identity, il + 1);
  memcpy(psk, c->key, c->key_len);
  return c->key_len;
}

// Handshake retransmission timer (RFC 6347 §4.2.4.1): the configured first timeout, doubling
// on each retransmission up to 60 s. OpenSSL calls this with 0 for the first one.
static unsigned int timer_cb(SSL *ssl, unsigned int timer_us) {
  octx *c = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_ctx_idx);
  unsigned int first = c && c->retransmit_us ? c->retransmit_us : 1000000;
  if (timer_us == 0) return first;
  return timer_us >= 30000000 ? 60000000 : timer_us * 2;
}

// ---- N-API helpers ----

#define THROW(msg) do { napi_throw_error(env, NULL, msg); return NULL; } while (0)

static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static char *get_str(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) return NULL;
  size_t len;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static napi_value prop(napi_env env, napi_value obj, const char *name) {
  napi_value v;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return NULL;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return (t == napi_undefined || t == napi_null) ? NULL : v;
}

static void ssl_err(sess *s, const char *what) {
  unsigned long e = ERR_peek_last_error();
  if (e) {
    char buf[120];
    ERR_error_string_n(e, buf, sizeof buf);
    snprintf(s->err, sizeof s->err, "%s: %s", what, buf);
  } else if (!s->err[0]) {
    snprintf(s->err, sizeof s->err, "%s", what);
  }
  ERR_clear_error();
}

// ---- context ----

static void ctx_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  octx *c = data;
  if (c->psk_fn) napi_delete_reference(env, c->psk_fn);
  SSL_CTX_set_ex_data(c->ctx, g_ctx_idx, NULL);
  SSL_CTX_free(c->ctx);
  free(c);
}

static int ctx_fail(napi_env env, SSL_CTX *ctx, const char *what, const char *file) {
  char buf[120] = "", msg[512];
  unsigned long e = ERR_peek_last_error();
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  snprintf(msg, sizeof msg, "%s%s%s%s%s", what, file ? " " : "", file ? file : "", buf[0] ? ": " : "", buf);
  SSL_CTX_free(ctx);
  napi_throw_error(env, NULL, msg);
  return 0;
}

// newContext({ psk?: fn, hint?, certfile?, keyfile?, cacertfile?, verify: 0 none | 1 peer | 2 peer+fail, ciphers })
static napi_value new_context(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value o;
  napi_get_cb_info(env, info, &argc, &o, NULL, NULL);
  if (argc < 1) THROW("newContext(options)");
  bool client = false;
  napi_value cv;
  if ((cv = prop(env, o, "client"))) napi_get_value_bool(env, cv, &client);
  SSL_CTX *ctx = SSL_CTX_new(client ? DTLS_client_method() : DTLS_server_method());
  if (!ctx) THROW("SSL_CTX_new failed");
  SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, DTLS1_2_VERSION, NULL);
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_COOKIE_EXCHANGE | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_cookie_generate_cb(ctx, cookie_gen);
  SSL_CTX_set_cookie_verify_cb(ctx, cookie_verify);
  SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"outpost-dtls", 12);
  SSL_CTX_set_read_ahead(ctx, 1);

  napi_value v;
  char *s;
  if ((v = prop(env, o, "ciphers")) && (s = get_str(env, v))) {
    int ok = SSL_CTX_set_cipher_list(ctx, s);
    free(s);
    if (!ok) return ctx_fail(env, ctx, "no usable cipher in ciphers", NULL), NULL;
  }
  if ((v = prop(env, o, "hint")) && (s = get_str(env, v))) {
    SSL_CTX_use_psk_identity_hint(ctx, s);
    free(s);
  }
  char *cert = NULL, *key = NULL, *ca = NULL;
  if ((v = prop(env, o, "certfile"))) cert = get_str(env, v);
  if ((v = prop(env, o, "keyfile"))) key = get_str(env, v);
  if ((v = prop(env, o, "cacertfile"))) ca = get_str(env, v);
  int verify = 0;
  if ((v = prop(env, o, "verify"))) napi_get_value_int32(env, v, &verify);
  int fail = 0;
  if (cert && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) fail = ctx_fail(env, ctx, "cannot load certfile", cert) + 1;
  else if (cert && (!key || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)) fail = ctx_fail(env, ctx, "cannot load keyfile", key) + 1;
  else if (cert && SSL_CTX_check_private_key(ctx) != 1) fail = ctx_fail(env, ctx, "keyfile does not match certfile", key) + 1;
  else if (ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) fail = ctx_fail(env, ctx, "cannot load cacertfile", ca) + 1;
  if (!fail && ca) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (names) SSL_CTX_set_client_CA_list(ctx, names);
    ERR_clear_error();
  }
  free(cert); free(key); free(ca);
  if (fail) return NULL;
  SSL_CTX_set_verify(ctx, verify == 0 ? SSL_VERIFY_NONE : SSL_VERIFY_PEER | (verify == 2 ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);

  octx *c = calloc(1, sizeof(octx));
  c->ctx = ctx;
  c->env = env;
  c->client = client;
  int rt = 0;
  if ((v = prop(env, o, "retransmitMs"))) napi_get_value_int32(env, v, &rt);
  c->retransmit_us = rt > 0 ? (unsigned int)rt * 1000 : 1000000;
  if (client) {
    // { client: true, identity, key: Buffer }: a fixed PSK for load generators and tests.
    void *kd;
    size_t kl = 0;
    if ((v = prop(env, o, "identity")) && (s = get_str(env, v))) {
      snprintf(c->identity, sizeof c->identity, "%s", s);
      free(s);
    }
    if ((v = prop(env, o, "key")) && napi_get_buffer_info(env, v, &kd, &kl) == napi_ok && kl <= sizeof c->key) {
      memcpy(c->key, kd, kl);
      c->key_len = (unsigned int)kl;
      SSL_CTX_set_psk_client_callback(ctx, psk_client_cb);
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  } else if ((v = prop(env, o, "psk"))) {
    napi_create_reference(env, v, 1, &c->psk_fn);
    SSL_CTX_set_psk_server_callback(ctx, psk_cb);
  }
  SSL_CTX_set_ex_data(ctx, g_ctx_idx, c);
  napi_value ext;
  napi_create_external(env, c, ctx_finalize, NULL, &ext);
  return ext;
}

// ---- sessions ----

static void sess_release(sess *s) {
  if (s->ssl) {
    SSL_free(s->ssl);  // frees both BIOs
    s->ssl = NULL;
  }
  q_free(&s->out_head, &s->out_tail);
  q_free(&s->in_head, &s->in_tail);
}

static void sess_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  sess_release(data);
  free(data);
}

static sess *get_sess(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return NULL;
  sess *s = p;
  return s->ssl ? s : NULL;
}

// newSession(ctx, mtu): a server SSL in accept state, ready for listen() (the stateless cookie
// exchange) and then feed().
static napi_value new_session(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  octx *c = NULL;
  if (argc < 2 || napi_get_value_external(env, a[0], (void **)&c) != napi_ok || !c) THROW("newSession(ctx, mtu)");
  int mtu = 1280;
  napi_get_value_int32(env, a[1], &mtu);
  sess *s = calloc(1, sizeof(sess));
  s->mtu = mtu > 0 ? (size_t)mtu : 1280;
  s->ssl = SSL_new(c->ctx);
  s->rbio = BIO_new(BIO_s_mem());
  BIO *w = BIO_new(g_out_method);
  if (!s->ssl || !s->rbio || !w) {
    if (s->ssl) SSL_free(s->ssl);
    if (s->rbio) BIO_free(s->rbio);
    if (w) BIO_free(w);
    free(s);
    THROW("SSL_new failed");
  }
  BIO_set_mem_eof_return(s->rbio, -1);
  BIO_set_data(w, s);
  SSL_set_bio(s->ssl, s->rbio, w);
  SSL_set_app_data(s->ssl, s);
  SSL_set_info_callback(s->ssl, info_cb);
  DTLS_set_timer_cb(s->ssl, timer_cb);
  if (c->client) SSL_set_connect_state(s->ssl); else SSL_set_accept_state(s->ssl);
  SSL_set_options(s->ssl, SSL_OP_NO_QUERY_MTU);
  SSL_ctrl(s->ssl, DTLS_CTRL_SET_LINK_MTU, (long)s->mtu, NULL);
  napi_value ext;
  napi_create_external(env, s, sess_finalize, NULL, &ext);
  return ext;
}

static void begin(sess *s) {
  s->flags = 0;
  s->alert[0] = 0;
  s->err[0] = 0;
  ERR_clear_error();
}

static int finish(sess *s) {
  (void)BIO_reset(s->rbio);  // drop whatever OpenSSL did not consume: one datagram per call
  if (s->out_head) s->flags |= F_OUT;
  if (s->in_head) s->flags |= F_PLAIN;
  return s->flags;
}

// Drive the handshake / read application records from what is in rbio.
static void pump(sess *s) {
  if (!s->done) {
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
      s->done = 1;
      s->flags |= F_DONE;
    } else {
      int e = SSL_get_error(s->ssl, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        s->flags |= F_FATAL;
        ssl_err(s, "handshake failed");
      }
      return;
    }
  }
  static unsigned char buf[16384 + 512];
  for (int i = 0; i < 64; i++) {
    int r = SSL_read(s->ssl, buf, sizeof buf);
    if (r > 0) {
      q_push(&s->in_head, &s->in_tail, buf, (size_t)r, 0);
      continue;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN) s->flags |= F_CLOSED;
    else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      s->flags |= F_FATAL;
      ssl_err(s, "read failed");
    }
    break;
  }
}

static int get_buf(napi_env env, napi_value v, void **data, size_t *len) {
  return napi_get_buffer_info(env, v, data, len) == napi_ok;
}

// listen(sess, datagram, cookie, prevCookie?) -> flags. Stateless: DTLSv1_listen keeps nothing
// between calls; only a ClientHello carrying a valid cookie returns F_ACCEPTED.
static napi_value listen_(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  sess *s;
  void *d, *ck, *pck = NULL;
  size_t dl, ckl, pckl = 0;
  if (argc < 3 || !(s = get_sess(env, a[0])) || !get_buf(env, a[1], &d, &dl) || !get_buf(env, a[2], &ck, &ckl)) THROW("listen(sess, datagram, cookie, prev?)");
  if (argc > 3) {
    napi_valuetype t;
    napi_typeof(env, a[3], &t);
    if (t != napi_undefined && t != napi_null && !get_buf(env, a[3], &pck, &pckl)) THROW("prev cookie must be a Buffer");
  }
  begin(s);
  s->cookie = ck; s->cookie_len = ckl;
  s->prev_cookie = pck; s->prev_cookie_len = pckl;
  BIO_write(s->rbio, d, (int)dl);
  int r = DTLSv1_listen(s->ssl, g_listen_addr);
  if (r == 1) {
    s->flags |= F_ACCEPTED;
    pump(s);  // the state machine checks the buffered ClientHello's cookie once more
  } else if (r < 0) {
    ERR_clear_error();
  }
  s->cookie = s->prev_cookie = NULL;
  return num(env, finish(s));
}

// feed(sess, datagram) -> flags
static napi_value feed(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  sess *s;
  void *d;
  size_t dl;
  if (argc < 2 || !(s = get_sess(env, a[0])) || !get_buf(env, a[1], &d, &dl)) return num(env, F_FATAL);
  begin(s);
  BIO_write(s->rbio, d, (int)dl);
  pump(s);
  return num(env, finish(s));
}

// connect(sess) -> flags: a client session sends its ClientHello.
static napi_value connect_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a;
  napi_get_cb_info(env, info, &argc, &a, NULL, NULL);
  sess *s = get_sess(env, a);
  if (!s) return num(env, F_FATAL);
  begin(s);
  pump(s);
  return num(env, finish(s));
}

// write(sess, plaintext) -> flags (F_OUT with the record queued)
static napi_value write_(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  sess *s;
  void *d;
  size_t dl;
  if (argc < 2 || !(s = get_sess(env, a[0])) || !get_buf(env, a[1], &d, &dl)) return num(env, F_FATAL);
  begin(s);
  if (!s->done) return num(env, 0);
  int r = SSL_write(s->ssl, d, (int)dl);
  if (r <= 0) {
    int e = SSL_get_error(s->ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      s->flags |= F_FATAL;
      ssl_err(s, "write failed");
    }
  }
  return num(env, finish(s));
}

static napi_value take(napi_env env, napi_callback_info info, int out) {
  size_t argc = 1;
  napi_value a, r;
  napi_get_cb_info(env, info, &argc, &a, NULL, NULL);
  void *p = NULL;
  napi_get_value_external(env, a, &p);
  sess *s = p;
  pkt **head = out ? &s->out_head : &s->in_head, **tail = out ? &s->out_tail : &s->in_tail;
  if (!s || !*head) {
    napi_get_undefined(env, &r);
    return r;
  }
  pkt *h = *head;
  napi_create_buffer_copy(env, h->len, h->data, NULL, &r);
  *head = h->next;
  if (!*head) *tail = NULL;
  free(h);
  return r;
}

static napi_value take_out(napi_env env, napi_callback_info info) { return take(env, info, 1); }
static napi_value take_plain(napi_env env, napi_callback_info info) { return take(env, info, 0); }

// timeout(sess) -> ms until the handshake retransmission timer fires, or -1 when none runs.
static napi_value timeout_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a;
  napi_get_cb_info(env, info, &argc, &a, NULL, NULL);
  sess *s = get_sess(env, a);
  struct timeval tv;
  if (!s || !DTLSv1_get_timeout(s->ssl, &tv)) return num(env, -1);
  return num(env, (double)tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

// handleTimeout(sess) -> flags: retransmits the last flight (OpenSSL doubles the timer each
// time, 1 s .. 60 s) or F_FATAL after too many.
static napi_value handle_timeout(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a;
  napi_get_cb_info(env, info, &argc, &a, NULL, NULL);
  sess *s = get_sess(env, a);
  if (!s) return num(env, F_FATAL);
  begin(s);
  if (DTLSv1_handle_timeout(s->ssl) < 0) {
    s->flags |= F_FATAL;
    ssl_err(s, "handshake timed out");
  }
  return num(env, finish(s));
}

// shutdown(sess) -> flags: queues close_notify.
static napi_value shutdown_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a;
  napi_get_cb_info(env, info, &argc, &a, NULL, NULL);
  sess *s = get_sess(env, a);
  if (!s) return num(env, 0);
  begin(s);
  if (s->done) SSL_shutdown(s->ssl);
  ERR_clear_error();
  return num(env, finish(s));
}

static napi_value free_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a, r;
  napi_get_cb_info(env, info, &argc, &a, NULL, NULL);
  void *p = NULL;
  if (napi_get_value_external(env, a, &p) == napi_ok && p) sess_release(p);
  napi_get_undefined(env, &r);
  return r;
}

static void set_str(napi_env env, napi_value o, const char *k, const char *v) {
  if (!v || !v[0]) return;
  napi_value s;
  napi_create_string_utf8(env, v, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, k, s);
}

// info(sess) -> { alert?, error?, cipher?, version?, pskIdentity?, certDer?, verifyError? }
static napi_value info_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a, o;
  napi_get_cb_info(env, info, &argc, &a, NULL, NULL);
  napi_create_object(env, &o);
  void *p = NULL;
  napi_get_value_external(env, a, &p);
  sess *s = p;
  if (!s) return o;
  set_str(env, o, "alert", s->alert);
  set_str(env, o, "error", s->err);
  if (!s->ssl) return o;
  if (s->done) {
    set_str(env, o, "cipher", SSL_get_cipher_name(s->ssl));
    set_str(env, o, "version", SSL_get_version(s->ssl));
    set_str(env, o, "pskIdentity", SSL_get_psk_identity(s->ssl));
    X509 *x = SSL_get1_peer_certificate(s->ssl);
    if (x) {
      int n = i2d_X509(x, NULL);
      if (n > 0) {
        void *d;
        napi_value b;
        napi_create_buffer(env, n, &d, &b);
        unsigned char *q = d;
        i2d_X509(x, &q);
        napi_set_named_property(env, o, "certDer", b);
      }
      X509_free(x);
    }
  }
  long vr = SSL_get_verify_result(s->ssl);
  if (vr != X509_V_OK) set_str(env, o, "verifyError", X509_verify_cert_error_string(vr));
  return o;
}

static napi_value version_(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &r);
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  if (g_ctx_idx < 0) g_ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  if (!g_out_method) {
    g_out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "outpost datagram out");
    BIO_meth_set_write(g_out_method, out_write);
    BIO_meth_set_ctrl(g_out_method, out_ctrl);
    BIO_meth_set_create(g_out_method, out_create);
  }
  if (!g_listen_addr) g_listen_addr = BIO_ADDR_new();
  napi_property_descriptor d[] = {
    {"newContext", 0, new_context, 0, 0, 0, napi_default, 0},
    {"newSession", 0, new_session, 0, 0, 0, napi_default, 0},
    {"listen", 0, listen_, 0, 0, 0, napi_default, 0},
    {"feed", 0, feed, 0, 0, 0, napi_default, 0},
    {"connect", 0, connect_, 0, 0, 0, napi_default, 0},
    {"write", 0, write_, 0, 0, 0, napi_default, 0},
    {"takeOut", 0, take_out, 0, 0, 0, napi_default, 0},
    {"takePlain", 0, take_plain, 0, 0, 0, napi_default, 0},
    {"timeout", 0, timeout_, 0, 0, 0, napi_default, 0},
    {"handleTimeout", 0, handle_timeout, 0, 0, 0, napi_default, 0},
    {"shutdown", 0, shutdown_, 0, 0, 0, napi_default, 0},
    {"free", 0, free_, 0, 0, 0, napi_default, 0},
    {"info", 0, info_, 0, 0, 0, napi_default, 0},
    {"openssl", 0, version_, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
