#!/bin/bash
# Prepares one aarmor cluster replica before it starts: the StatefulSet's init container runs it
# with the aarmor image, as the image's user, on the replica's own volume.
#
# 1. Writes the configuration: the template (aarmor.toml of this ConfigMap) with the Redis URL of
#    the Secret aarmor-redis in place of @REDIS_URL@, into a memory-backed emptyDir that the
#    aarmor container mounts at /etc/aarmor/aarmor.toml; then checks it (`aarmor config check`).
# 2. Installs the interception CA of the Secret aarmor-ca in the data dir: every replica presents
#    leaves of the same CA, the one agents trust. A replica never creates a CA of its own. When
#    the Secret holds another CA than the volume (the CA was replaced), the Secret's wins.
# 3. When the ConfigMap aarmor-policies exists, unpacks its policies.tar.gz into
#    <data dir>/policies (replacing what was there) after `aarmor policy check` accepts it: every
#    replica, new ones included, then decides by the same bundle.
#
# Nothing here needs a shell in the aarmor container, network access or any privilege.
set -euo pipefail
umask 0077

template=/etc/aarmor/template/aarmor.toml
redis_url_file=/etc/aarmor/redis/redis-url
ca_cert=/etc/aarmor/ca/tls.crt
ca_key=/etc/aarmor/ca/tls.key
bundle=/etc/aarmor/policies/policies.tar.gz
config=/etc/aarmor/rendered/aarmor.toml
data=/var/lib/aarmor

fail() {
    echo "setup: $*" >&2
    exit 1
}

# 1. The configuration.
[[ -r $redis_url_file ]] || fail "$redis_url_file is missing: create the Secret aarmor-redis (key redis-url)"
url=$(<"$redis_url_file")
url=${url%$'\r'}
[[ $url == redis://* || $url == rediss://* ]] || fail "redis-url must start with redis:// or rediss://"
[[ $url != *[[:cntrl:]]* ]] || fail "redis-url holds a control character"
# A TOML basic string: backslashes and double quotes escaped.
url=${url//\\/\\\\}
url=${url//\"/\\\"}
text=$(<"$template")
placeholder='"@REDIS_URL@"'
[[ $text == *"$placeholder"* ]] || fail "$template has no redis_url = $placeholder"
printf '%s\n' "${text//"$placeholder"/"\"$url\""}" > "$config.tmp"
mv -f "$config.tmp" "$config"
# The effective configuration (with the password) goes nowhere; errors name the key at fault.
aarmor --config "$config" --data-dir "$data" config check > /dev/null

# 2. The shared CA.
[[ -r $ca_cert && -r $ca_key ]] || fail "the Secret aarmor-ca (tls.crt, tls.key) is not mounted at ${ca_cert%/*}"
if [[ -f $data/certs/ca.pem && -f $data/certs/ca.key ]] \
    && cmp -s "$ca_cert" "$data/certs/ca.pem" && cmp -s "$ca_key" "$data/certs/ca.key"; then
    echo "setup: the interception CA is the Secret's"
elif [[ -e $data/certs/ca.pem || -e $data/certs/ca.key ]]; then
    echo "setup: the volume holds another CA than the Secret aarmor-ca: replacing it with the Secret's"
    aarmor --config "$config" --data-dir "$data" ca import --cert "$ca_cert" --key "$ca_key" --force
else
    aarmor --config "$config" --data-dir "$data" ca import --cert "$ca_cert" --key "$ca_key"
fi

# 3. The policy bundle.
if [[ -f $bundle ]]; then
    staging=$data/.policies.new
    rm -rf "$staging" "$data/.policies.old"
    mkdir -p "$staging"
    tar -x -z -f "$bundle" -C "$staging" --no-same-owner --no-same-permissions
    aarmor --config "$config" --data-dir "$data" policy check --dir "$staging"
    if [[ -e $data/policies ]]; then
        mv "$data/policies" "$data/.policies.old"
    fi
    mv "$staging" "$data/policies"
    rm -rf "$data/.policies.old"
    echo "setup: installed the policy bundle of the ConfigMap aarmor-policies"
fi
