#!/bin/bash
# HTTPS sources: a self-signed certificate is refused by default with a
# clear message, and accepted with --cacert, with its SHA-1 or SHA-256
# thumbprint (the ESXi form, with colons, or without), or with --insecure;
# a wrong thumbprint is refused.  Basic authentication takes the password
# from --password-file or FERRY_PASSWORD and session cookies from
# --cookie-file or FERRY_COOKIE; no secret ever shows on stderr, even with
# -v -v, nor a password given in the URL.  Server: nginx with TLS.
source "$(dirname "$0")/lib.sh"
need qemu-img nginx openssl python3


pw='S3cr3t-Pa55w0rd-xyzzy'
cookie='52f1c0de-ferry-session-cookie'

# The certificate, made now, for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem \
  -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2> /dev/null \
  || fail "openssl could not make a certificate"
sha1=$(openssl x509 -in cert.pem -noout -fingerprint -sha1 | cut -d= -f2)
sha256=$(openssl x509 -in cert.pem -noout -fingerprint -sha256 | cut -d= -f2)
[[ $sha1 == *:*:* && $sha256 == *:*:* ]] || fail "no fingerprints: $sha1 $sha256"
printf 'alice:%s\n' "$(openssl passwd -apr1 -stdin <<< "$pw")" > htpasswd

start_nginx () {
  nginx_start "" "$(cat <<EOF
    ssl_certificate $T/cert.pem;
    ssl_certificate_key $T/key.pem;
    location /private/ {
      auth_basic "ferry";
      auth_basic_user_file $T/htpasswd;
    }
    location /session/ {
      if (\$cookie_vmware_soap_session != "$cookie") { return 401; }
    }
EOF
)" ssl
}

mkdir -p www/private www/session
mixed_raw base.raw $((16 * MiB))
qemu-img convert -q -f raw -O vmdk base.raw www/disk.vmdk
cp www/disk.vmdk www/private/disk.vmdk
cp www/disk.vmdk www/session/disk.vmdk
qemu_raw www/disk.vmdk want.raw
start_nginx
U=https://127.0.0.1:$PORT

# ok ARGS...: ferry converts with ARGS (the URL last but one) to out.raw,
# equal to qemu-img's conversion.
ok () {
  rm -f out.raw
  run_ferry convert -q "$@" out.raw
  compare_raw out.raw want.raw
  rm -f out.raw
  note "ok: $*"
}

# Verification is on by default.
expect_input_error "$U/disk.vmdk" out.raw "certificate" \
  "$FERRY" convert -q "$U/disk.vmdk" out.raw
expect_msg "--cacert"

ok --cacert="$T/cert.pem" "$U/disk.vmdk"
ok --thumbprint="$sha1" "$U/disk.vmdk"
ok --thumbprint="$sha256" "$U/disk.vmdk"
ok --thumbprint="$(tr -d : <<< "$sha256" | tr A-F a-f)" "$U/disk.vmdk"
ok --insecure "$U/disk.vmdk"

# A wrong pin is refused, naming what the server has.
wrong=$(openssl rand -hex 32)
expect_input_error "$U/disk.vmdk" out.raw "--thumbprint" \
  "$FERRY" convert -q --thumbprint="$wrong" "$U/disk.vmdk" out.raw
expect_msg "SHA-256 fingerprint $sha256"
wrong1=$(openssl rand -hex 20 | sed 's/../&:/g; s/:$//')
expect_input_error "$U/disk.vmdk" out.raw "SHA-1 fingerprint $sha1" \
  "$FERRY" convert -q --thumbprint="$wrong1" "$U/disk.vmdk" out.raw
# ...and a malformed one is a usage error.
expect_fail 2 "--thumbprint" "$FERRY" convert --thumbprint=12:34 "$U/disk.vmdk" out.raw
no_dest out.raw
# A CA file that does not exist.
expect_input_error "$U/disk.vmdk" out.raw "--cacert" \
  "$FERRY" convert -q --cacert="$T/nonexistent.pem" "$U/disk.vmdk" out.raw

# info and checksum take the same options.
run_ferry info --thumbprint="$sha1" "$U/disk.vmdk" > /dev/null
want=$("$FERRY" checksum www/disk.vmdk | cut -d' ' -f1)
got=$("$FERRY" checksum --cacert="$T/cert.pem" "$U/disk.vmdk" | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "checksum over HTTPS differs"

# Basic authentication: from a file, or from the environment.
printf '%s\n' "$pw" > pwfile
ok --cacert="$T/cert.pem" --user=alice --password-file=pwfile "$U/private/disk.vmdk"
cp "$T/stderr" stderr.1
FERRY_PASSWORD=$pw ok --insecure --user=alice "$U/private/disk.vmdk"
# Nothing, or the wrong password: 401, exit 1.
expect_input_error "$U/private/disk.vmdk" out.raw "401" \
  "$FERRY" convert -q --insecure "$U/private/disk.vmdk" out.raw
printf 'not-the-password\n' > badpw
expect_input_error "$U/private/disk.vmdk" out.raw "401" \
  "$FERRY" convert -q --insecure --user=alice --password-file=badpw "$U/private/disk.vmdk" out.raw
# --user without any password is a usage error; so is a missing file.
expect_fail 2 "FERRY_PASSWORD" env -u FERRY_PASSWORD "$FERRY" convert --insecure --user=alice "$U/private/disk.vmdk" out.raw
expect_fail 2 "nonexistent" "$FERRY" convert --insecure --user=alice --password-file=nonexistent "$U/private/disk.vmdk" out.raw
no_dest out.raw

# The password never shows, with -v -v either, on success or failure.
rm -f out.raw
run_ferry convert -v -v --cacert="$T/cert.pem" --user=alice --password-file=pwfile \
  "$U/private/disk.vmdk" out.raw
cat "$T/stderr" stderr.1 > all-stderr
grep -c 'GET' "$T/stderr" > /dev/null || fail "-v -v shows no requests"
FERRY_PASSWORD=$pw expect_fail 1 "certificate" "$FERRY" convert -v -v --user=alice \
  "$U/private/disk.vmdk" out2.raw
cat "$T/stderr" >> all-stderr
# A password in the URL works, with a warning, and is not repeated.
rm -f out.raw
run_ferry convert -v -v --insecure "https://alice:$pw@127.0.0.1:$PORT/private/disk.vmdk" out.raw
compare_raw out.raw want.raw
grep -q "password in the URL" "$T/stderr" || fail "no warning about the password in the URL"
cat "$T/stderr" >> all-stderr
expect_fail 1 "401" "$FERRY" convert -v -v --insecure \
  "https://alice:$pw-x@127.0.0.1:$PORT/private/disk.vmdk" out3.raw
cat "$T/stderr" >> all-stderr
expect_fail 1 "401" "$FERRY" info --insecure "https://alice:$pw-x@127.0.0.1:$PORT/private/disk.vmdk?token=$pw"
cat "$T/stderr" >> all-stderr
if grep -F -q "$pw" all-stderr; then
  fail "the password appears on stderr: $(grep -F "$pw" all-stderr)"
fi

# A session cookie (as vCenter's vmware_soap_session) from a file or the
# environment; it never shows either.
printf 'vmware_soap_session=%s\n' "$cookie" > cookiefile
ok --insecure --cookie-file=cookiefile "$U/session/disk.vmdk"
FERRY_COOKIE="vmware_soap_session=$cookie" ok --insecure -v -v "$U/session/disk.vmdk"
grep -F -q "$cookie" "$T/stderr" && fail "the cookie appears on stderr"
expect_input_error "$U/session/disk.vmdk" out.raw "401" \
  env -u FERRY_COOKIE "$FERRY" convert -q --insecure "$U/session/disk.vmdk" out.raw
note "TLS, pinning, authentication and cookies ok"
