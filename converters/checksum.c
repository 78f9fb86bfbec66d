#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "converters/checksum.h"

struct ferry_leaf_hasher {
  EVP_MD_CTX *ctx;
};

struct ferry_root_hasher {
  EVP_MD_CTX *ctx;
};

static int
crypto_error (const char *what)
{
  return ferry_error (FERRY_E_SYSTEM, "SHA-256: %s failed", what);
}

struct ferry_leaf_hasher *
ferry_leaf_hasher_new (void)
{
  struct ferry_leaf_hasher *h = calloc (1, sizeof *h);
  if (!h || !(h->ctx = EVP_MD_CTX_new ())) {
    free (h);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  return h;
}

void
ferry_leaf_hasher_free (struct ferry_leaf_hasher *h)
{
  if (!h)
    return;
  EVP_MD_CTX_free (h->ctx);
  free (h);
}

int
ferry_leaf_begin (struct ferry_leaf_hasher *h)
{
  if (EVP_DigestInit_ex (h->ctx, EVP_sha256 (), NULL) != 1)
    return crypto_error ("init");
  return 0;
}

int
ferry_leaf_update (struct ferry_leaf_hasher *h, const void *buf, size_t len)
{
  if (len && EVP_DigestUpdate (h->ctx, buf, len) != 1)
    return crypto_error ("update");
  return 0;
}

int
ferry_leaf_update_zeros (struct ferry_leaf_hasher *h, size_t len)
{
  static const unsigned char zeros[65536];
  while (len > 0) {
    size_t n = len < sizeof zeros ? len : sizeof zeros;
    if (ferry_leaf_update (h, zeros, n) < 0)
      return -1;
    len -= n;
  }
  return 0;
}

int
ferry_leaf_end (struct ferry_leaf_hasher *h, uint8_t out[FERRY_CSUM_LEN])
{
  unsigned int n;
  if (EVP_DigestFinal_ex (h->ctx, out, &n) != 1 || n != FERRY_CSUM_LEN)
    return crypto_error ("final");
  return 0;
}

int
ferry_zero_leaf_digest (size_t len, uint8_t out[FERRY_CSUM_LEN])
{
  /* The full-size zero leaf is by far the most common; its digest is
   * fixed, so compute it once per call site rather than keep a cache. */
  struct ferry_leaf_hasher *h = ferry_leaf_hasher_new ();
  int r = -1;
  if (h && ferry_leaf_begin (h) == 0 && ferry_leaf_update_zeros (h, len) == 0
      && ferry_leaf_end (h, out) == 0)
    r = 0;
  ferry_leaf_hasher_free (h);
  return r;
}

struct ferry_root_hasher *
ferry_root_hasher_new (void)
{
  struct ferry_root_hasher *r = calloc (1, sizeof *r);
  if (!r || !(r->ctx = EVP_MD_CTX_new ())
      || EVP_DigestInit_ex (r->ctx, EVP_sha256 (), NULL) != 1) {
    if (r)
      EVP_MD_CTX_free (r->ctx);
    free (r);
    ferry_error (FERRY_E_SYSTEM, "SHA-256: cannot start");
    return NULL;
  }
  return r;
}

int
ferry_root_add (struct ferry_root_hasher *r, const uint8_t leaf[FERRY_CSUM_LEN])
{
  if (EVP_DigestUpdate (r->ctx, leaf, FERRY_CSUM_LEN) != 1)
    return crypto_error ("update");
  return 0;
}

int
ferry_root_final (struct ferry_root_hasher *r, uint64_t virtual_size,
                  char hex[2 * FERRY_CSUM_LEN + 1])
{
  uint8_t size_le[8], out[FERRY_CSUM_LEN];
  unsigned int n;

  for (int i = 0; i < 8; i++)
    size_le[i] = (uint8_t) (virtual_size >> (8 * i));
  if (EVP_DigestUpdate (r->ctx, size_le, sizeof size_le) != 1
      || EVP_DigestFinal_ex (r->ctx, out, &n) != 1)
    return crypto_error ("final");
  for (int i = 0; i < FERRY_CSUM_LEN; i++)
    sprintf (hex + 2 * i, "%02x", out[i]);
  return 0;
}

void
ferry_root_hasher_free (struct ferry_root_hasher *r)
{
  if (!r)
    return;
  EVP_MD_CTX_free (r->ctx);
  free (r);
}
