/* ferry: the options for reaching remote sources (HTTP(S), NBD), shared by
 * convert, info and checksum, and opening a source with them.
 *
 * Secrets never come from argv: the password from --password-file or
 * FERRY_PASSWORD, the session cookie from --cookie-file or FERRY_COOKIE.
 * They are kept in memory only as long as the command runs and wiped when
 * freed; no message names them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "common/error.h"

const char cli_source_help[] =
  "Remote sources (http://, https://, nbd://, nbds://, nbd+unix://):\n"
  "      --connections=N        connections in parallel, 1 to 16 (default 4):\n"
  "                             the HTTP pool; NBD when the server allows\n"
  "                             multi-conn\n"
  "      --retries=N            retry a failed request N times with backoff,\n"
  "                             resuming where it stopped (default 5)\n"
  "      --cacert=FILE          HTTPS: trust the CA certificates in FILE\n"
  "      --insecure             HTTPS: do not verify the server's certificate\n"
  "      --thumbprint=HEX       HTTPS: accept only the certificate with this\n"
  "                             SHA-1 or SHA-256 fingerprint (hex, colons\n"
  "                             allowed, as ESXi shows it)\n"
  "      --user=NAME            HTTP basic authentication user; the password\n"
  "                             comes from --password-file or FERRY_PASSWORD\n"
  "      --password-file=FILE   read the password from the first line of FILE\n"
  "      --cookie-file=FILE     send the cookie in FILE (name=value, e.g. a\n"
  "                             vmware_soap_session); or set FERRY_COOKIE\n"
  "      --nbd-request-size=SIZE\n"
  "                             largest NBD read request (default 32M, less\n"
  "                             if the server says so)\n"
  "      --nbd-timeout=SECONDS  give up on an NBD request the server has not\n"
  "                             answered in SECONDS (default 60, 0: wait\n"
  "                             forever); a source reconnects and retries, an\n"
  "                             NBD target fails\n"
  "  Proxies come from http_proxy, https_proxy, all_proxy and no_proxy.\n";

void
cli_source_init (struct cli_source *s, const struct ferry_log *log)
{
  memset (s, 0, sizeof *s);
  ferry_source_opts_init (&s->o);
  s->o.log = log;
}

static int
bad (const char *command, const char *fmt, const char *arg)
{
  fprintf (stderr, "ferry: ");
  fprintf (stderr, fmt, arg);
  fprintf (stderr, " (see 'ferry %s --help')\n", command);
  return -1;
}

int
cli_source_option (struct cli_source *s, int code, const char *arg,
                   const char *command)
{
  uint64_t v;

  switch (code) {
  case CLI_OPT_CONNECTIONS:
    if (cli_parse_size (arg, &v) < 0 || v < 1 || v > 16)
      return bad (command, "--connections=%s: expected a number from 1 to 16",
                  arg);
    s->o.connections = (unsigned) v;
    return 0;
  case CLI_OPT_RETRIES:
    if (cli_parse_size (arg, &v) < 0 || v > 100)
      return bad (command, "--retries=%s: expected a number from 0 to 100",
                  arg);
    s->o.retries = (int) v;
    return 0;
  case CLI_OPT_CACERT:
    s->o.cacert = arg;
    return 0;
  case CLI_OPT_INSECURE:
    s->o.insecure = true;
    return 0;
  case CLI_OPT_THUMBPRINT: {
    size_t digits = 0;
    for (const char *p = arg; *p; p++) {
      if (strchr ("0123456789abcdefABCDEF", *p))
        digits++;
      else if (*p != ':' && *p != ' ' && *p != '-')
        return bad (command, "--thumbprint=%s: expected hex digits (colons "
                    "allowed)", arg);
    }
    if (digits != 40 && digits != 64)
      return bad (command, "--thumbprint=%s: expected a SHA-1 (40 hex "
                  "digits) or SHA-256 (64 hex digits) fingerprint", arg);
    s->o.thumbprint = arg;
    return 0;
  }
  case CLI_OPT_USER:
    if (!*arg || strchr (arg, ':'))
      return bad (command, "--user=%s: expected a user name without ':' (the "
                  "password goes in --password-file or FERRY_PASSWORD)", arg);
    s->o.user = arg;
    return 0;
  case CLI_OPT_PASSWORD_FILE:
    s->password_file = arg;
    return 0;
  case CLI_OPT_COOKIE_FILE:
    s->cookie_file = arg;
    return 0;
  case CLI_OPT_NBD_REQUEST_SIZE:
    if (cli_parse_size (arg, &v) < 0 || v < 512 || v > (32u << 20))
      return bad (command, "--nbd-request-size=%s: expected a size from 512 "
                  "to 32M", arg);
    s->o.nbd_request_size = v;
    return 0;
  case CLI_OPT_NBD_TIMEOUT:
    if (cli_parse_size (arg, &v) < 0 || v > 86400)
      return bad (command, "--nbd-timeout=%s: expected seconds from 0 (no "
                  "limit) to 86400", arg);
    s->o.nbd_timeout = v == 0 ? -1 : (int) v;
    return 0;
  default:
    return bad (command, "internal: unknown source option %s", "");
  }
}

static void
wipe_free (char *p)
{
  if (p) {
    explicit_bzero (p, strlen (p));
    free (p);
  }
}

/* The first line of FILE, without its line end.  Never prints the
 * content. */
static char *
read_secret_file (const char *file, const char *option)
{
  FILE *f = fopen (file, "re");
  char buf[8192];
  size_t n;
  char *out;

  if (!f) {
    ferry_error_errno (FERRY_E_USAGE, errno, "%s=%s", option, file);
    return NULL;
  }
  n = fread (buf, 1, sizeof buf - 1, f);
  if (ferror (f)) {
    ferry_error_errno (FERRY_E_USAGE, errno, "%s=%s: read", option, file);
    fclose (f);
    explicit_bzero (buf, sizeof buf);
    return NULL;
  }
  fclose (f);
  buf[n] = 0;
  buf[strcspn (buf, "\r\n")] = 0;
  if (!buf[0]) {
    ferry_error (FERRY_E_USAGE, "%s=%s: the first line is empty", option,
                 file);
    return NULL;
  }
  out = strdup (buf);
  explicit_bzero (buf, sizeof buf);
  if (!out)
    ferry_error (FERRY_E_SYSTEM, "out of memory");
  return out;
}

/* "name=value[; name=value]", optionally after "Cookie:". */
static int
check_cookie (char **cookie, const char *from)
{
  char *c = *cookie, *start = c, *end;
  if (strncasecmp (start, "Cookie:", 7) == 0)
    start += 7;
  while (*start == ' ' || *start == '\t')
    start++;
  end = start + strlen (start);
  while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *end = 0;
  memmove (c, start, (size_t) (end - start) + 1);
  if (!strchr (c, '=') || c[0] == '=')
    return ferry_error (FERRY_E_USAGE, "%s: expected a cookie as "
                        "name=value", from);
  return 0;
}

int
cli_source_finish (struct cli_source *s, const char *command, int *exit_code)
{
  const char *env;

  (void) command;
  if (s->password_file && !s->o.user) {
    ferry_error (FERRY_E_USAGE, "--password-file needs --user");
    goto fail;
  }
  if (s->o.user) {
    if (s->password_file) {
      if (!(s->password = read_secret_file (s->password_file,
                                            "--password-file")))
        goto fail;
    }
    else if ((env = getenv ("FERRY_PASSWORD")) && *env) {
      if (!(s->password = strdup (env))) {
        ferry_error (FERRY_E_SYSTEM, "out of memory");
        goto fail;
      }
    }
    else {
      ferry_error (FERRY_E_USAGE, "--user=%s needs a password: give "
                   "--password-file=FILE or set FERRY_PASSWORD", s->o.user);
      goto fail;
    }
    s->o.password = s->password;
  }
  if (s->cookie_file) {
    if (!(s->cookie = read_secret_file (s->cookie_file, "--cookie-file")))
      goto fail;
    if (check_cookie (&s->cookie, "--cookie-file") < 0)
      goto fail;
  }
  else if ((env = getenv ("FERRY_COOKIE")) && *env) {
    if (!(s->cookie = strdup (env))) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    if (check_cookie (&s->cookie, "FERRY_COOKIE") < 0)
      goto fail;
  }
  s->o.cookie = s->cookie;
  return 0;

fail:
  *exit_code = cli_fail ();
  return -1;
}

void
cli_source_free (struct cli_source *s)
{
  wipe_free (s->password);
  wipe_free (s->cookie);
  s->password = s->cookie = NULL;
  s->o.password = s->o.cookie = NULL;
}

char *
cli_source_name (const char *source)
{
  return ferry_source_display (source);
}

/* A password in the URL itself (user:password@host). */
static bool
url_has_password (const char *source)
{
  const char *scheme_end = strstr (source, "://");
  const char *auth, *auth_end, *at = NULL;
  if (!scheme_end)
    return false;
  auth = scheme_end + 3;
  auth_end = auth + strcspn (auth, "/?#");
  for (const char *p = auth; p < auth_end; p++)
    if (*p == '@')
      at = p;
  return at && memchr (auth, ':', (size_t) (at - auth));
}

/* What the head of a source is, when it is a format that cannot be read
 * front to back: e.g. "a monolithicSparse VMDK".  NULL when the format
 * could be streamed (so the reader's own error is the one to show). */
static const char *
random_only_format (const unsigned char *h, size_t len, char *out,
                    size_t outlen)
{
  const char *ct;
  if (len >= 12 && memcmp (h, "KDMV", 4) == 0) {
    unsigned flags = h[8] | h[9] << 8 | (unsigned) h[10] << 16
                     | (unsigned) h[11] << 24;
    if ((flags & (1u << 16)) && (flags & (1u << 17)))
      return NULL; /* streamOptimized */
  }
  if (len >= 4 && memcmp (h, "QFI\xfb", 4) == 0)
    return NULL; /* refused for what it is */
  ct = memmem (h, len, "createType=\"", 12);
  if (!ct)
    ct = memmem (h, len, "createType = \"", 14);
  if (ct) {
    const char *v = strchr (ct, '"') + 1;
    size_t n = 0;
    while (v + n < (const char *) h + len && n < 40
           && (v[n] == '_' || (v[n] >= 'a' && v[n] <= 'z')
               || (v[n] >= 'A' && v[n] <= 'Z') || (v[n] >= '0' && v[n] <= '9')))
      n++;
    if (n > 0 && !(n == 15 && strncmp (v, "streamOptimized", 15) == 0)) {
      snprintf (out, outlen, "a %.*s VMDK", (int) n, v);
      return out;
    }
  }
  if (len >= 4 && memcmp (h, "KDMV", 4) == 0)
    return "a hosted sparse VMDK";
  if (len >= 4 && memcmp (h, "COWD", 4) == 0)
    return "a COWD (vmfsSparse) VMDK";
  if (len >= 21 && memcmp (h, "# Disk DescriptorFile", 21) == 0)
    return "a VMDK descriptor";
  return NULL;
}

struct ferry_disk *
cli_open_disk (const char *source, const struct cli_source *s,
               const struct ferry_open_opts *oo, bool need_random,
               const char *command)
{
  struct ferry_transport *tr;
  struct ferry_disk *d;
  unsigned char *head = NULL;
  size_t head_len = 0;
  char *name = NULL;

  if (url_has_password (source)) {
    bool http = strncasecmp (source, "http", 4) == 0;
    name = ferry_source_display (source);
    ferry_warn (s->o.log, "%s: a password in the URL can be seen by other "
                "users of this machine%s", name,
                http ? "; use --user with --password-file or FERRY_PASSWORD"
                     : "");
    free (name);
    name = NULL;
  }
  if (!(tr = ferry_transport_open_opts (source, &s->o)))
    return NULL;
  if (!ferry_transport_no_ranges (tr)) {
    if (need_random && tr->sequential) {
      ferry_error (FERRY_E_USAGE, "%s: %s needs a file or a server with "
                   "random access, not a stream", tr->name, command);
      ferry_transport_close (tr);
      return NULL;
    }
    return ferry_disk_open (tr, oo);
  }

  /* A server without Range support: keep the head (it stays readable on
   * a sequential transport) to say what the format is if it cannot be
   * read front to back. */
  if (!(name = strdup (tr->name)) || !(head = malloc (FERRY_SEQ_HEAD))) {
    free (name);
    ferry_transport_close (tr);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  {
    int64_t size = ferry_transport_size (tr);
    head_len = FERRY_SEQ_HEAD;
    if (size >= 0 && (uint64_t) size < head_len)
      head_len = (size_t) size;
    if (ferry_transport_pread (tr, head, head_len, 0) < 0)
      head_len = 0;
    ferry_error_clear ();
  }
  if (need_random) {
    ferry_error (FERRY_E_INPUT, "%s: server does not support Range requests; "
                 "'ferry %s' needs random access ('ferry convert' and "
                 "'ferry checksum' can read raw and streamOptimized VMDK "
                 "sources from it)", name, command);
    ferry_transport_close (tr);
    d = NULL;
  }
  else if (!(d = ferry_disk_open (tr, oo))
           && ferry_error_code () == FERRY_E_INPUT) {
    char buf[96];
    const char *what = random_only_format (head, head_len, buf, sizeof buf);
    if (what)
      ferry_error (FERRY_E_INPUT, "%s: server does not support Range "
                   "requests; %s needs random access (only raw and "
                   "streamOptimized VMDK can be read from such a server)",
                   name, what);
  }
  free (head);
  free (name);
  return d;
}
