#!/usr/bin/env python3
"""Writes agent/src/secrets/providers/cases.rs: one fake positive sample and near misses per
provider rule, drawn from gen_secret_corpus.py's generators (seed 7).

Usage: python3 agent/tests/data/gen_provider_cases.py > agent/src/secrets/providers/cases.rs && cargo fmt
"""

import contextlib
import io
import os
import re
import runpy

HERE = os.path.dirname(os.path.abspath(__file__))
with contextlib.redirect_stdout(io.StringIO()):
    g = runpy.run_path(os.path.join(HERE, "gen_secret_corpus.py"))
g["R"].seed(7)
src = open(os.path.join(HERE, "..", "..", "src", "secrets", "providers.rs")).read()
kinds = []
for m in re.finditer(r'(?:rule|checked)\(\s*"([a-z0-9-]+)"', src):
    if m.group(1) not in kinds:
        kinds.append(m.group(1))
rand, B62, HEX, bad = g["rand"], g["B62"], g["HEX"], g["bad_crc_token"]
# The corpus generator makes the name-dependent (37 hex) global key; the shape rule is `cfk_`.
override = {"cloudflare-global-api-key": lambda: "cfk_" + rand(B62, 40) + rand(HEX, 8)}
special = {
    "azure-devops-pat": lambda v: [v[:76] + "AZDX" + v[80:]],
    "terraform-api-token": lambda v: [v.replace(".atlasv1.", ".atlasv2.")],
    "azure-ad-client-secret": lambda v: [v.replace("Q~", "Q-")],
    "github-classic-pat": lambda v: [bad("ghp_")],
    "github-oauth-token": lambda v: [bad("gho_")],
    "github-user-to-server-token": lambda v: [bad("ghu_")],
    "github-installation-token": lambda v: [bad("ghs_")],
    "github-refresh-token": lambda v: [bad("ghr_")],
    "npm-token": lambda v: [bad("npm_")],
    "anthropic-api-key": lambda v: [v[:-2] + "AB"],
    "anthropic-admin-key": lambda v: [v[:-2] + "AB"],
    "openai-api-key": lambda v: [v.replace("T3BlbkFJ", "T3BlbkFK")],
    "sentry-org-token": lambda v: ["sntrys_eyJub3RpYXQiOjF9" + "A" * 30 + "_" + "B" * 43],
    "pypi-token": lambda v: [v.replace("AgEIcHlwaS5vcmc", "AgEIcHlwaS5uZXQ")],
    "stripe-secret-key": lambda v: [v.replace("sk_live_", "pk_live_")],
    "twilio-api-key": lambda v: ["AC" + v[2:]],
}
case_free_prefix = {"azure-ad-client-secret", "azure-devops-pat", "terraform-api-token"}


def flip(v):
    for i, c in enumerate(v):
        if c.isalpha():
            return v[:i] + c.swapcase() + v[i + 1:]
    return v


print("//! Generated positive and near-miss samples per provider rule (all fake), written by")
print("//! `agent/tests/data/gen_provider_cases.py`. Near misses: the first letter's case flipped")
print("//! (where the prefix is case-sensitive), the first 12 characters, and per-rule breakages of")
print("//! the marker or checksum.")
print()
print("pub(super) const CASES: &[(&str, &str, &[&str])] = &[")
for k in kinds:
    v = (override.get(k) or g["GENERATORS"][k][0])()
    misses = ([] if k in case_free_prefix else [flip(v)]) + [v[:12]] + special.get(k, lambda v: [])(v)
    ms = ", ".join('"%s"' % m for m in misses)
    print(f'    ("{k}", "{v}", &[{ms}]),')
print('    ("notion-token", "secret_%s", &["secret_%s"]),' % (rand(B62, 43), rand(B62, 42)))
print("];")
