{
  "targets": [
    {
      "target_name": "outpost_dtls",
      "sources": ["outpost_dtls.c"],
      "cflags": ["-O2", "-Wall", "-Wno-deprecated-declarations"],
      "defines": ["NAPI_VERSION=8", "OPENSSL_API_COMPAT=30000"]
    }
  ]
}
