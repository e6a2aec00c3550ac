#!/usr/bin/env bash
# Scale benchmark of the fleetgen binary against the git and kustomize CLIs,
# on the fleet of bench/specgen: 20 regions x 250 clusters (5,000), and
# 20 x 2,500 (50,000). Every step runs under /usr/bin/time -v (user+sys CPU,
# max RSS), timed by bash's microsecond clock (wall); the table at the end
# gives each figure as min-max over the rounds, and the ratios the
# performance targets are stated in.
#
#   bench/scale.sh                  # 2 rounds, 200-dir kustomize sample, 50k once
#   ROUNDS=3 SAMPLE=500 bench/scale.sh
#   SKIP_50K=1 bench/scale.sh       # quicker
#   WORK=/dev/shm/fleetgen-scale bench/scale.sh   # on tmpfs (see README)
#
# Other knobs: REGION (region-07), KUSTOMIZE (path), KEEP=1 (keep the repos),
# MIN_AVAIL_MB (1500: a step is killed when the machine's available memory
# drops below it; the 50,000-cluster generate peaks at ~1 GB RSS).
#
# Per round, in a fresh folder under $WORK:
#   1. fleetgen generate (5,000) into a new folder;
#   2. tar x of that worktree (without .git) into a new folder: the cost of
#      only creating the files, a floor for any generator on this disk;
#   3. git CLI: `git init -q && git add -A && git commit -qm x` alone, on a
#      copy of the same worktree without .git (tree hash compared with
#      fleetgen's);
#   4. region-07 changed in the repository's fleet.yaml (connectivity, label),
#      committed with git, then `fleetgen regen --region region-07`;
#   5. fleetgen validate of the repository;
#   6. kustomize build, one directory after another, over SAMPLE of the
#      kustomization directories evenly spaced over the sorted list;
#      extrapolated to all of them (time per directory x directory count).
# Then, once, fleetgen generate of 50,000 clusters.
#
# Needs no network: the build uses the module cache (GOPROXY=off). kustomize: $KUSTOMIZE, else the one on
# PATH, else ~/go/bin/kustomize (v5.8.2 expected).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=
ROUNDS=${ROUNDS:-2}
SAMPLE=${SAMPLE:-200}
SKIP_50K=${SKIP_50K:-0}
REGION=${REGION:-region-07}
KUSTOMIZE=${KUSTOMIZE:-$(command -v kustomize || echo "$HOME/go/bin/kustomize")}
WORK=${WORK:-${TMPDIR:-/tmp}/fleetgen-scale}
KEEP=${KEEP:-0}
MIN_AVAIL_MB=${MIN_AVAIL_MB:-1500}

# git and fleetgen see no user or system git config; identities are fixed.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
AUTHOR=(--author-name bench --author-email bench@example.com)

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
if [ "$KEEP" != 1 ]; then trap 'rm -rf "$WORK"/round-* "$WORK"/g50k' EXIT; fi
RES="$WORK/results.tsv" # step round wall_s cpu_s maxrss_kb
: >"$RES"

say() { printf '%s\n' "$*" >&2; }

# timed STEP ROUND CMD...: runs CMD under /usr/bin/time -v, records wall,
# user+sys and max RSS, and fails the script if CMD fails.
timed() {
	local step=$1 round=$2
	shift 2
	local tv="$WORK/time.$step.$round"
	# Wall time from bash's microsecond clock around the command (time -v
	# rounds to 10 ms, a tenth of a one-region regen); CPU and max RSS from
	# time -v.
	(
		t0=$EPOCHREALTIME
		/usr/bin/time -v -o "$tv" "$@" >"$WORK/out.$step.$round" 2>&1
		rc=$?
		echo "$t0 $EPOCHREALTIME" >"$tv.wall"
		exit $rc
	) &
	local tpid=$! rc=0
	# The machine is shared: stop the command (only it, by pid) before it
	# leaves less than MIN_AVAIL_MB of memory to everybody else.
	while kill -0 "$tpid" 2>/dev/null; do
		if [ "$(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo)" -lt "$MIN_AVAIL_MB" ]; then
			say "  $step: less than $MIN_AVAIL_MB MB of memory left; stopping it"
			for t in $(pgrep -P "$tpid"); do pkill -P "$t"; done
		fi
		sleep 1
	done
	wait "$tpid" || rc=$?
	if [ "$rc" != 0 ]; then
		say "FAILED ($rc): $step (round $round): $*"
		tail -20 "$WORK/out.$step.$round" >&2
		exit 1
	fi
	awk -v step="$step" -v round="$round" -v w="$(awk '{printf "%.4f", $2 - $1}' "$tv.wall")" '
		/User time/ {u=$NF} /System time/ {s=$NF} /Maximum resident/ {m=$NF}
		END {printf "%s\t%s\t%.4f\t%.2f\t%d\n", step, round, w, u+s, m}' "$tv" >>"$RES"
	tail -1 "$RES" | awk -F'\t' '{printf "  %-16s round %s: %7.3f s wall, %7.2f s cpu, %6.0f MB max RSS\n", $1, $2, $3, $4, $5/1024}' >&2
}

say "building fleetgen and the specs in $WORK"
go build -o "$WORK/fleetgen" ./cmd/fleetgen
go run ./bench/specgen -regions 20 -per-region 250 >"$WORK/fleet-5000.yaml"
go run ./bench/specgen -regions 20 -per-region 250 -bump "$REGION" >"$WORK/fleet-5000-edit.yaml"
go run ./bench/specgen -regions 20 -per-region 2500 >"$WORK/fleet-50000.yaml"
FG="$WORK/fleetgen"
"$KUSTOMIZE" version >"$WORK/kustomize.version" 2>&1 || { say "no kustomize at $KUSTOMIZE"; exit 1; }
say "git $(git --version | awk '{print $3}'), kustomize $(cat "$WORK/kustomize.version"), $(nproc) CPUs, $(uptime | sed 's/.*load/load/')"

for round in $(seq 1 "$ROUNDS"); do
	say "round $round"
	R="$WORK/round-$round"
	rm -rf "$R"
	mkdir -p "$R"
	sync

	# 1. fleetgen generate, 5,000 clusters.
	timed generate-5k "$round" "$FG" generate -q "${AUTHOR[@]}" --spec "$WORK/fleet-5000.yaml" --out "$R/fleet"
	[ -z "$(git -C "$R/fleet" status --porcelain | head -1)" ] || { say "git status not clean after generate"; exit 1; }

	# 2. Only creating the same files (tar x), and 3. the git CLI on a copy.
	tar -C "$R/fleet" --exclude=./.git -cf "$R/worktree.tar" .
	mkdir "$R/tarx" "$R/gitcli"
	sync
	timed create-files "$round" tar -C "$R/tarx" -xf "$R/worktree.tar"
	tar -C "$R/gitcli" -xf "$R/worktree.tar"
	rm -rf "$R/tarx" "$R/worktree.tar"
	sync
	timed git-cli "$round" sh -c "cd '$R/gitcli' && git init -q -b main && git add -A && git commit -qm x"
	a=$(git -C "$R/gitcli" rev-parse 'HEAD^{tree}')
	b=$(git -C "$R/fleet" rev-parse 'HEAD^{tree}')
	[ "$a" = "$b" ] || { say "tree hashes differ: git $a, fleetgen $b"; exit 1; }
	rm -rf "$R/gitcli"

	# 4. Change one region in the repo's fleet.yaml, commit it, regen it.
	cp "$WORK/fleet-5000-edit.yaml" "$R/fleet/fleet.yaml"
	git -C "$R/fleet" commit -qm "edit $REGION" fleet.yaml
	sync
	timed regen-region "$round" "$FG" regen -q "${AUTHOR[@]}" --dir "$R/fleet" --region "$REGION"
	[ -z "$(git -C "$R/fleet" status --porcelain | head -1)" ] || { say "git status not clean after regen"; exit 1; }
	git -C "$R/fleet" diff --stat HEAD~1 HEAD | tail -1 | sed 's/^/  regen commit:/' >&2

	# 5. fleetgen validate.
	timed validate "$round" "$FG" validate -q "$R/fleet"

	# 6. kustomize build, sequentially, over a sample of the directories.
	(cd "$R/fleet" && find . -path ./.git -prune -o \( -name kustomization.yaml -o -name kustomization.yml -o -name Kustomization \) -print |
		sed 's|/[^/]*$||' | sort) >"$R/kdirs"
	ndirs=$(wc -l <"$R/kdirs")
	awk -v n="$ndirs" -v s="$SAMPLE" 'BEGIN {step = n > s ? n / s : 1} NR - 1 >= next_ {print; next_ += step}' "$R/kdirs" >"$R/ksample"
	nsample=$(wc -l <"$R/ksample")
	cat >"$R/kbuild.sh" <<-EOF
		cd '$R/fleet'
		while read -r d; do "$KUSTOMIZE" build "\$d" >/dev/null || exit 1; done <'$R/ksample'
	EOF
	timed kustomize-sample "$round" sh "$R/kbuild.sh"
	printf '%s\t%s\t%s\n' "$round" "$ndirs" "$nsample" >>"$WORK/kdirs.tsv"
	say "  kustomize: $nsample of $ndirs directories built"
	[ "$KEEP" = 1 ] || rm -rf "$R"
done

if [ "$SKIP_50K" != 1 ]; then
	say "50,000 clusters"
	rm -rf "$WORK/g50k"
	sync
	timed generate-50k 1 "$FG" generate -q "${AUTHOR[@]}" --spec "$WORK/fleet-50000.yaml" --out "$WORK/g50k"
	[ "$KEEP" = 1 ] || rm -rf "$WORK/g50k"
fi

# The table.
awk -F'\t' -v kd="$WORK/kdirs.tsv" '
function fmt(lo, hi, d,   a, b) { a = sprintf("%." d "f", lo); b = sprintf("%." d "f", hi); return a == b ? a : a "-" b }
function upd(k, v) { if (!(k in lo) || v < lo[k]) lo[k] = v; if (!(k in hi) || v > hi[k]) hi[k] = v }
BEGIN { while ((getline line < kd) > 0) { split(line, f, "\t"); ndirs[f[1]] = f[2]; nsample[f[1]] = f[3] } }
{
	step = $1; r = $2; w[step, r] = $3; c[step, r] = $4; m[step, r] = $5; rounds[r] = 1
	if (step == "kustomize-sample") {
		# extrapolate the sample to every directory
		w["kustomize-all", r] = $3 / nsample[r] * ndirs[r]; c["kustomize-all", r] = $4 / nsample[r] * ndirs[r]; m["kustomize-all", r] = $5
		seen["kustomize-all"] = 1
	}
	seen[step] = 1
}
END {
	n = split("generate-5k create-files git-cli regen-region validate kustomize-sample kustomize-all generate-50k", order, " ")
	label["generate-5k"] = "fleetgen generate, 5,000 clusters"
	label["create-files"] = "tar x of the same worktree (file creation only)"
	label["git-cli"] = "git init + add -A + commit of the same files"
	label["regen-region"] = "fleetgen regen --region (250 clusters)"
	label["validate"] = "fleetgen validate (whole repo)"
	label["kustomize-sample"] = "kustomize build, sample, sequential"
	label["kustomize-all"] = "kustomize build, all dirs (extrapolated)"
	label["generate-50k"] = "fleetgen generate, 50,000 clusters"
	printf "\n| step | wall s | CPU s (user+sys) | max RSS MB |\n|---|---|---|---|\n"
	for (i = 1; i <= n; i++) {
		s = order[i]; if (!(s in seen)) continue
		delete lo; delete hi
		for (r in rounds) if ((s, r) in w) { upd("w", w[s, r]); upd("c", c[s, r]); upd("m", m[s, r] / 1024) }
		printf "| %s | %s | %s | %s |\n", label[s], fmt(lo["w"], hi["w"], 2), fmt(lo["c"], hi["c"], 2), fmt(lo["m"], hi["m"], 0)
	}
	printf "\n| ratio (per round) | wall | CPU | target |\n|---|---|---|---|\n"
	ratio("generate-5k", "git-cli", "fleetgen generate / git CLI", "<= 1 (aim 0.5)")
	ratio("regen-region", "generate-5k", "regen one region / generate", "< 0.10")
	ratio("kustomize-all", "validate", "kustomize CLI (all dirs) / validate", ">= 10")
	if ("generate-50k" in seen) {
		# 50k ran once; compare with every 5k round
		delete lo; delete hi
		for (r in rounds) if (("generate-5k", r) in w) { upd("w", w["generate-50k", 1] / w["generate-5k", r]); upd("c", c["generate-50k", 1] / c["generate-5k", r]) }
		printf "| generate 50k / generate 5k | %s | %s | <= ~10 |\n", fmt(lo["w"], hi["w"], 2), fmt(lo["c"], hi["c"], 2)
	}
	for (r in rounds) if (("generate-5k", r) in m) { upd("rss5", m["generate-5k", r] / 1024) }
	printf "\nmax RSS of generate (5,000): %s MB (target < 300)\n", fmt(lo["rss5"], hi["rss5"], 0)
	printf "kustomize sample: %s of %s directories per round; the all-dirs row is sample time / sample size x directory count\n", nsample[1], ndirs[1]
}
function ratio(a, b, name, target,   r) {
	delete lo; delete hi
	for (r in rounds) if (((a, r) in w) && ((b, r) in w) && w[b, r] > 0 && c[b, r] > 0) { upd("w", w[a, r] / w[b, r]); upd("c", c[a, r] / c[b, r]) }
	printf "| %s | %s | %s | %s |\n", name, fmt(lo["w"], hi["w"], 2), fmt(lo["c"], hi["c"], 2), target
}' "$RES"
say "raw figures: $RES"
