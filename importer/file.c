/* ferry: local files and block devices, and standard input as a
 * sequential transport. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "importer/seqread.h"
#include "importer/transport.h"

struct file_priv {
  int fd;
  int64_t size;
  bool can_seek_hole;
};

static int
file_pread (struct ferry_transport *t, void *buf, size_t count,
            uint64_t offset)
{
  struct file_priv *p = t->priv;
  char *b = buf;

  if (offset > (uint64_t) p->size || count > (uint64_t) p->size - offset)
    return ferry_error (FERRY_E_INPUT,
                        "%s: read of %zu bytes at offset %llu is past the end "
                        "of the file (size %lld)",
                        t->name, count, (unsigned long long) offset,
                        (long long) p->size);
  while (count > 0) {
    ssize_t r = pread (p->fd, b, count, (off_t) offset);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return ferry_error_errno (FERRY_E_INPUT, errno, "%s: read at offset %llu",
                                t->name, (unsigned long long) offset);
    }
    if (r == 0)
      return ferry_error (FERRY_E_INPUT,
                          "%s: unexpected end of file at offset %llu "
                          "(file shrank while reading?)",
                          t->name, (unsigned long long) offset);
    b += r;
    count -= (size_t) r;
    offset += (uint64_t) r;
  }
  return 0;
}

static int64_t
file_size (struct ferry_transport *t)
{
  return ((struct file_priv *) t->priv)->size;
}

static int
file_block_status (struct ferry_transport *t, uint64_t offset, uint64_t count,
                   enum ferry_bs_type *type, uint64_t *len)
{
  struct file_priv *p = t->priv;
  off_t data, hole;

  /* lseek's result is its return value, so concurrent callers do not race
   * even though they move the shared file position; pread ignores it. */
  data = lseek (p->fd, (off_t) offset, SEEK_DATA);
  if (data < 0 && errno == ENXIO)
    data = p->size; /* only a hole up to EOF */
  else if (data < 0)
    goto fallback;
  if ((uint64_t) data > offset) {
    *type = FERRY_BS_HOLE;
    *len = (uint64_t) data - offset;
  }
  else {
    hole = lseek (p->fd, (off_t) offset, SEEK_HOLE);
    if (hole < 0)
      goto fallback;
    *type = FERRY_BS_DATA;
    *len = (uint64_t) hole - offset;
  }
  if (*len > count)
    *len = count;
  if (*len == 0)
    goto fallback;
  return 0;

fallback:
  *type = FERRY_BS_DATA;
  *len = count;
  return 0;
}

static struct ferry_transport *
file_open_sibling (struct ferry_transport *t, const char *relpath)
{
  char *path;
  const char *slash;
  struct ferry_transport *r;

  if (relpath[0] == '/')
    return ferry_file_open (relpath);
  slash = strrchr (t->name, '/');
  if (slash) {
    if (asprintf (&path, "%.*s/%s", (int) (slash - t->name), t->name,
                  relpath) < 0)
      path = NULL;
  }
  else
    path = strdup (relpath);
  if (!path) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  r = ferry_file_open (path);
  free (path);
  return r;
}

static void
file_close (struct ferry_transport *t)
{
  struct file_priv *p = t->priv;
  close (p->fd);
  free (p);
}

static const struct ferry_transport_ops file_ops = {
  .name = "file",
  .pread = file_pread,
  .size = file_size,
  .block_status = file_block_status,
  .open_sibling = file_open_sibling,
  .close = file_close,
};

/* Standard input: forward reads, with the first FERRY_SEQ_HEAD bytes kept
 * so format probing can look at the start more than once. */
struct seq_priv {
  int fd;
  pthread_mutex_t lock;
  uint64_t pos; /* bytes consumed from fd */
  size_t head_len;
  unsigned char head[FERRY_SEQ_HEAD];
};

static ssize_t
read_full (int fd, void *buf, size_t count)
{
  size_t done = 0;
  while (done < count) {
    ssize_t r = read (fd, (char *) buf + done, count - done);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    done += (size_t) r;
  }
  return (ssize_t) done;
}

static int64_t
seq_pull (void *ctx, char *buf, size_t count)
{
  struct ferry_transport *t = ctx;
  struct seq_priv *p = t->priv;
  ssize_t r = read_full (p->fd, buf, count);
  if (r < 0)
    return ferry_error_errno (FERRY_E_INPUT, errno, "%s: read", t->name);
  p->pos += (uint64_t) r;
  return r;
}

/* Returns bytes read (short only at end of stream) or -1. */
static int64_t
seq_read_locked (struct ferry_transport *t, struct seq_priv *p, char *buf,
                 size_t count, uint64_t offset)
{
  const struct ferry_seq_stream s = {
    .head = p->head, .head_len = p->head_len, .pos = &p->pos,
    .pull = seq_pull, .ctx = t,
    .passed_hint = "this format cannot be read from a stream (try a local "
                   "file)",
  };
  return ferry_seq_read (t, &s, buf, count, offset);
}

static int64_t
seq_pread_partial (struct ferry_transport *t, void *buf, size_t count,
                   uint64_t offset)
{
  struct seq_priv *p = t->priv;
  pthread_mutex_lock (&p->lock);
  int64_t r = seq_read_locked (t, p, buf, count, offset);
  pthread_mutex_unlock (&p->lock);
  return r;
}

static int
seq_pread (struct ferry_transport *t, void *buf, size_t count,
           uint64_t offset)
{
  int64_t r = seq_pread_partial (t, buf, count, offset);
  if (r < 0)
    return -1;
  if ((size_t) r < count)
    return ferry_error (FERRY_E_INPUT,
                        "%s: unexpected end of stream at offset %llu "
                        "(truncated input?)",
                        t->name, (unsigned long long) (offset + (uint64_t) r));
  return 0;
}

static int64_t
seq_size (struct ferry_transport *t)
{
  (void) t;
  return -1;
}

static void
seq_close (struct ferry_transport *t)
{
  struct seq_priv *p = t->priv;
  pthread_mutex_destroy (&p->lock);
  free (p);
}

static const struct ferry_transport_ops seq_ops = {
  .name = "stdin",
  .pread = seq_pread,
  .pread_partial = seq_pread_partial,
  .size = seq_size,
  .close = seq_close,
};

static struct ferry_transport *
stdin_open (void)
{
  struct seq_priv *p = calloc (1, sizeof *p);
  ssize_t r;
  struct ferry_transport *t;

  if (!p) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  p->fd = STDIN_FILENO;
  pthread_mutex_init (&p->lock, NULL);
  r = read_full (p->fd, p->head, sizeof p->head);
  if (r < 0) {
    ferry_error_errno (FERRY_E_INPUT, errno, "standard input: read");
    free (p);
    return NULL;
  }
  p->head_len = (size_t) r;
  p->pos = (uint64_t) r;
  t = ferry_transport_new (&seq_ops, "standard input", p);
  if (!t) {
    free (p);
    return NULL;
  }
  t->sequential = true;
  return t;
}

struct ferry_transport *
ferry_file_open (const char *path)
{
  struct file_priv *p;
  struct stat st;
  struct ferry_transport *t;
  int fd;

  if (strcmp (path, "-") == 0)
    return stdin_open ();

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ferry_error_errno (FERRY_E_INPUT, errno, "%s", path);
    return NULL;
  }
  if (fstat (fd, &st) < 0) {
    ferry_error_errno (FERRY_E_INPUT, errno, "%s: stat", path);
    close (fd);
    return NULL;
  }
  p = calloc (1, sizeof *p);
  if (!p) {
    close (fd);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  p->fd = fd;
  if (S_ISBLK (st.st_mode)) {
    uint64_t sz;
    if (ioctl (fd, BLKGETSIZE64, &sz) < 0) {
      ferry_error_errno (FERRY_E_INPUT, errno, "%s: BLKGETSIZE64", path);
      goto fail;
    }
    p->size = (int64_t) sz;
  }
  else if (S_ISREG (st.st_mode))
    p->size = st.st_size;
  else {
    ferry_error (FERRY_E_INPUT, "%s: not a regular file or block device "
                 "(use - to read a stream from standard input)", path);
    goto fail;
  }
  t = ferry_transport_new (&file_ops, path, p);
  if (!t)
    goto fail;
  return t;

fail:
  close (fd);
  free (p);
  return NULL;
}
