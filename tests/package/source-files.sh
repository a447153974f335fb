#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The files a package is built from, one a line: what git tracks plus new files
# it does not ignore (so a package built before a commit has them), or without
# git every file outside build/.  Run from the top of the tree.
set -eu
cd "$(dirname "$0")/../.."
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
		[ -e "$f" ] && printf '%s\n' "$f"
	done
else
	find . -path ./build -prune -o -type f -print | sed 's|^\./||'
fi
