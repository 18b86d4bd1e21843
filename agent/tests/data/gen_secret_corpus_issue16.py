#!/usr/bin/env python3
"""Generates agent/tests/data/secret_corpus_issue16.tsv: a second labelled block of FAKE values,
written after the issue-16 rules (credentials.toml shapes, providers from names, provider tokens in
Authorization values and URLs, checksum-failed, nested settings fields), to measure them apart
from the first corpus. Columns: label, provider, location, name, value. `label` is a detector kind,
`reference` (a reference whose provider is checked), or `none`. Fixed seed; every value is random.

Run: python3 agent/tests/data/gen_secret_corpus_issue16.py > agent/tests/data/secret_corpus_issue16.tsv
"""
import base64
import random
import string
import zlib

R = random.Random(1616)
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
HEX = "0123456789abcdef"
LOWER_ALNUM = string.ascii_lowercase + string.digits


def rand(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def uuid():
    return f"{rand(HEX, 8)}-{rand(HEX, 4)}-4{rand(HEX, 3)}-a{rand(HEX, 3)}-{rand(HEX, 12)}"


def b62(n, width):
    out = ""
    while n > 0:
        out = B62[n % 62] + out
        n //= 62
    return out.rjust(width, "0")


def crc_token(prefix, good=True):
    body = rand(B62, 30)
    crc = zlib.crc32(body.encode())
    if not good:
        crc = (crc + 1) & 0xFFFFFFFF
    return prefix + body + b62(crc, 6)


rows = []


def add(label, provider, location, name, value):
    rows.append((label, provider, location, name, value))


# ------------------------------------------------------------ literals with a vendor shape
add("tavily-api-key", "tavily", "env", "TAVILY_API_KEY", "tvly-dev-" + rand(B62, 32))
add("tavily-api-key", "tavily", "env", "SEARCH_KEY", "tvly-" + rand(B62, 32))
add("firecrawl-api-key", "firecrawl", "header", "Authorization", "Bearer fc-" + rand(HEX, 32))
add("firecrawl-api-key", "firecrawl", "env", "FIRECRAWL_API_KEY", "fc-" + rand(HEX, 32))
add("context7-api-key", "context7", "header", "CONTEXT7_API_KEY", "ctx7sk-" + uuid())
add("context7-api-key", "context7", "arg", "--api-key", "ctx7sk-" + uuid())
add("apify-api-token", "apify", "env", "APIFY_TOKEN", "apify_api_" + rand(B62, 36))
add("apify-api-token", "apify", "header", "Authorization", "Bearer apify_api_" + rand(B62, 36))
add("docker-hub-pat", "docker", "env", "DOCKER_PAT", "dckr_pat_" + rand(B62 + "_-", 27))
add("figma-pat", "figma", "env", "FIGMA_API_KEY", "figd_" + rand(B62 + "_-", 40))
add("figma-pat", "figma", "header", "X-Figma-Token", "figd_" + rand(B62 + "_-", 40))
add("pinecone-api-key", "pinecone", "env", "PINECONE_API_KEY", f"pcsk_{rand(B62, 6)}_{rand(B62, 63)}")
add("buildkite-api-token", "buildkite", "env", "BUILDKITE_API_TOKEN", "bkua_" + rand(HEX, 40))
add("astra-db-token", "datastax", "env", "ASTRA_DB_APPLICATION_TOKEN",
    f"AstraCS:{rand(string.ascii_letters, 24)}:{rand(HEX, 64)}")
add("neon-api-key", "neon", "env", "NEON_API_KEY", "napi_" + rand(LOWER_ALNUM, 64))
add("resend-api-key", "resend", "env", "RESEND_API_KEY", f"re_{rand(B62, 8)}_{rand(B62, 24)}")
add("browserbase-api-key", "browserbase", "env", "BROWSERBASE_API_KEY", "bb_live_" + rand(B62 + "_-", 27))
add("hubspot-private-app-token", "hubspot", "header", "Authorization", "Bearer pat-na1-" + uuid())
add("circleci-pat", "circleci", "env", "CIRCLECI_TOKEN", f"CCIPAT_{rand(B62, 22)}_{rand(HEX, 40)}")
add("sonarqube-token", "sonarqube", "env", "SONARQUBE_TOKEN", "squ_" + rand(HEX, 40))
# ------------------------------------------------------------ provider tokens inside values
add("tavily-api-key", "tavily", "url", "-", "https://mcp.tavily.com/mcp/?tavilyApiKey=tvly-" + rand(B62, 32))
add("context7-api-key", "context7", "url", "-", f"https://mcp.example.com/k/ctx7sk-{uuid()}/mcp")
add("linear-api-key", "linear", "header", "Authorization", "Bearer lin_api_" + rand(B62, 40))
add("linear-api-key", "linear", "url", "-", "https://mcp.example.com/mcp?k=lin_api_" + rand(B62, 40))
add("sentry-user-token", "sentry", "header", "Authorization", "token sntryu_" + rand(HEX, 64))
add("atlassian-api-token", "atlassian", "header", "Authorization",
    "Basic " + base64.b64encode(f"dev@example.com:ATATT3{rand(B62, 186)}".encode()).decode())
add("github-classic-pat", "github", "field", "settings.github_personal_access_token", crc_token("ghp_"))
add("npm-token", "npm", "field", "config.registry.token", crc_token("npm_"))
# ------------------------------------------------------------ checksum failures keep the provider
add("checksum-failed", "github", "env", "GITHUB_TOKEN", crc_token("ghp_", good=False))
add("checksum-failed", "github", "header", "Authorization", "Bearer " + crc_token("gho_", good=False))
add("checksum-failed", "npm", "arg", "-", crc_token("npm_", good=False))
# ------------------------------------------------------------ no shape: provider from the name
add("generic-secret", "brave", "env", "BRAVE_API_KEY", "BSA" + rand(B62, 28))
add("generic-secret", "exa", "env", "EXA_API_KEY", uuid())
add("generic-secret", "postmark", "env", "POSTMARK_SERVER_TOKEN", uuid())
add("generic-secret", "qdrant", "env", "QDRANT_API_KEY", rand(B62 + "_-", 40))
add("generic-secret", "snowflake", "env", "SNOWFLAKE_PAT", rand(B62, 48))
add("generic-secret", "elastic", "env", "ES_API_KEY", base64.b64encode(f"{rand(B62, 20)}:{rand(B62, 22)}".encode()).decode())
add("generic-secret", "launchdarkly", "env", "LD_ACCESS_TOKEN", "api-" + uuid())
add("generic-secret", "unknown", "field", "settings.api_key", rand(B62, 32))
# ------------------------------------------------------------ references: provider from the name
add("reference", "brave", "env", "API_KEY", "${BRAVE_API_KEY}")
add("reference", "context7", "header", "X-Api-Key", "{env:CONTEXT7_API_KEY}")
add("reference", "context7", "env", "CONTEXT7_API_KEY", "{env:CTX_KEY}")
add("reference", "tavily", "env", "TAVILY_API_KEY", "${env:TAVILY_API_KEY}")
add("reference", "firecrawl", "env", "FIRECRAWL_API_KEY", "${input:firecrawl_key}")
add("reference", "linear", "header", "Authorization", "Bearer ${LINEAR_API_KEY}")
add("reference", "sentry", "header", "Authorization", "Bearer {env:SENTRY_ACCESS_TOKEN}")
add("reference", "exa", "env", "EXA_API_KEY", "${EXA_API_KEY}")
add("reference", "figma", "arg", "--figma-api-key", "${FIGMA_API_KEY}")
# ------------------------------------------------------------ negatives
for location, name, value in [
    ("env", "TAVILY_SEARCH_DEPTH", "advanced"),
    ("env", "FIRECRAWL_API_URL", "https://api.firecrawl.dev"),
    ("env", "CONTEXT7_MAX_TOKENS", "10000"),
    ("env", "TAVILY_API_KEY", "tvly-YOUR_API_KEY"),
    ("env", "FIRECRAWL_API_KEY", "fc-YOUR_API_KEY"),
    ("env", "GITHUB_TOKEN", "ghp_" + "0" * 36),
    ("env", "DOCKER_HOST", "unix:///var/run/docker.sock"),
    ("env", "RESEND_FROM_EMAIL", "onboarding@resend.dev"),
    ("env", "HUBSPOT_PORTAL_ID", "24681357"),
    ("env", "ASTRA_DB_API_ENDPOINT", f"https://{uuid()}-us-east1.apps.astra.datastax.com"),
    ("env", "PINECONE_INDEX_NAME", "docs-index"),
    ("env", "SONARQUBE_URL", "https://sonar.example.com"),
    ("arg", "-", "tavily-mcp@0.2.1"),
    ("arg", "-", "@upstash/context7-mcp@1.0.14"),
    ("arg", "--transport", "stdio"),
    ("url", "-", "https://mcp.linear.app/sse"),
    ("url", "-", "https://mcp.context7.com/mcp"),
    ("url", "-", "https://mcp.tavily.com/mcp/"),
    ("header", "Accept", "application/json"),
    ("header", "Authorization", "Bearer ${input:token}"),
    ("field", "settings.theme", "dark"),
    ("field", "settings.max_results", "10"),
    ("field", "settings.endpoint", "https://api.example.com/v1"),
]:
    add("none", "-", location, name, value)

print("# label\tprovider\tlocation\tname\tvalue  (issue 16 block, written after the rules; generated by gen_secret_corpus_issue16.py; all values are fake)")
for row in rows:
    print("\t".join(row))
