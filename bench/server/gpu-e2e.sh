#!/usr/bin/env bash
# End-to-end on a real GPU machine that has python3 + PyTorch but no Node.js:
#   bash bench/server/gpu-e2e.sh pack     # here: node binary + production node_modules into test-artifacts/device/
#   (copy the working tree, test-artifacts/device and dist/ to the GPU machine)
#   bash bench/server/gpu-e2e.sh run      # there: rondo serve with one local worker owning GPU 0 (h100:1), two
#                                         # PyTorch jobs (examples/train_torch.py) sharing it; 15-s rounds force a
#                                         # preemption and a resume from the checkpoint
set -u
D=$PWD/test-artifacts/device
if [ "${1:-}" = pack ]; then
  mkdir -p "$D"
  npm ls --omit=dev --all --parseable 2>/dev/null | grep node_modules | sed "s|$PWD/||" \
    | awk -F/ '{print $1"/"$2 ($2 ~ /^@/ ? "/"$3 : "")}' | sort -u > "$D/deps.txt"
  tar --exclude='node_modules/better-sqlite3/deps' -cf - $(cat "$D/deps.txt") | xz -T2 -6 > "$D/nm.tar.xz"
  xz -T2 -6 -c "$(command -v node)" > "$D/node.xz"
  ls -la "$D"
  exit 0
fi
mkdir -p /tmp/rn && xz -dc $D/node.xz > /tmp/rn/node && chmod +x /tmp/rn/node
xz -dc $D/nm.tar.xz | tar -xf - 2>/dev/null
export PATH=/tmp/rn:$PATH
node --version
W=/tmp/rwork; rm -rf $W; mkdir -p $W
node bin/rondo.js serve --db $W/r.db --port 8470 --round 15 --grace 5 --heartbeat 0.5 --worker-timeout 5 --local-workers 1 --local-gpus ${GPUS:-h100:1} --quiet > $W/serve.out 2> $W/serve.err &
SP=$!
for i in $(seq 50); do grep -q listening $W/serve.out 2>/dev/null && break; sleep 0.2; done
cat $W/serve.out
export RONDO_SERVER=http://127.0.0.1:8470 RONDO_TOKEN=$(cat $W/r.db.admin-token)
for n in 4000 4000; do node bin/rondo.js submit --steps $n --cwd $PWD -- python3 examples/train_torch.py --steps $n --checkpoint-every 100; done
for i in $(seq 150); do
  node bin/rondo.js status --state queued,running | grep -q job- || break
  sleep 2
done
node bin/rondo.js status
node bin/rondo.js status job-1 | grep -E '"state"|"stepsDone"|"attempts"|endReason' | head -20
node bin/rondo.js logs job-1 | grep -E "device|preempted|done|SIGTERM" | head -20
node bin/rondo.js logs job-2 | grep -E "device|preempted|done" | head -10
curl -s -H "Authorization: Bearer $RONDO_TOKEN" $RONDO_SERVER/metrics | grep -E "^rondo_(gpu|jobs|solver)" 
kill -TERM $SP; wait $SP
tail -5 $W/serve.err
