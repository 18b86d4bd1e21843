#!/usr/bin/env python3
"""Generates agent/tests/data/secret_corpus.tsv: a labelled corpus of FAKE credential values.

Every value is random (fixed seed, so the file is reproducible) and shaped after the formats
in docs' credential reference; none was ever issued by a provider. GitHub and npm tokens carry
a valid base62 CRC32 checksum so the checksum rule is exercised.

Columns: label (detector kind, or `none`), location (env|header|arg|url|field), name (variable,
header or field name; for args the previous argument or `-`), value. Tabs, newlines and
backslashes in values are written as \\t, \\n and \\\\.

Usage: python3 agent/tests/data/gen_secret_corpus.py > agent/tests/data/secret_corpus.tsv
"""

import base64
import json
import random
import string
import zlib

R = random.Random(20261125)
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
HEX = "0123456789abcdef"
LOWER_ALNUM = string.ascii_lowercase + string.digits
URLSAFE = B62 + "_-"
B64 = B62 + "+/"


def rand(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def b62_encode(n, width):
    out = ""
    while n:
        out = B62[n % 62] + out
        n //= 62
    return out.rjust(width, "0")


def crc_token(prefix):
    body = rand(B62, 30)
    return prefix + body + b62_encode(zlib.crc32(body.encode()), 6)


def bad_crc_token(prefix):
    tok = crc_token(prefix)
    last = tok[-1]
    return tok[:-1] + ("A" if last != "A" else "B")


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(claims):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    return f"{header}.{payload}.{rand(URLSAFE, 43)}"


def uuid():
    h = rand(HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def pem(kind):
    body = "\n".join(rand(B64, 64) for _ in range(4))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


def sentry_org():
    payload = base64.b64encode(
        json.dumps({"iat": 1767225600.0, "url": "https://sentry.io", "region_url": "https://us.sentry.io", "org": "acme"}).encode()
    ).decode()
    return f"sntrys_{payload}_{rand(B64, 43)}"


def azdo():
    return rand(B62, 76) + "AZDO" + rand(B62, 4)


# kind -> (generator, typical env name)
GENERATORS = {
    "github-classic-pat": (lambda: crc_token("ghp_"), "GITHUB_PERSONAL_ACCESS_TOKEN"),
    "github-oauth-token": (lambda: crc_token("gho_"), "GH_TOKEN"),
    "github-user-to-server-token": (lambda: crc_token("ghu_"), "GITHUB_TOKEN"),
    "github-installation-token": (lambda: crc_token("ghs_"), "GITHUB_TOKEN"),
    "github-refresh-token": (lambda: crc_token("ghr_"), "GITHUB_REFRESH_TOKEN"),
    "github-fine-grained-pat": (lambda: f"github_pat_{rand(B62, 22)}_{rand(B62, 59)}", "GITHUB_PAT"),
    "gitlab-pat": (lambda: "glpat-" + rand(URLSAFE, 20), "GITLAB_PERSONAL_ACCESS_TOKEN"),
    "gitlab-deploy-token": (lambda: "gldt-" + rand(URLSAFE, 20), "GITLAB_DEPLOY_TOKEN"),
    "gitlab-runner-token": (lambda: "glrt-" + rand(URLSAFE, 20), "RUNNER_TOKEN"),
    "gitlab-trigger-token": (lambda: "glptt-" + rand(HEX, 40), "TRIGGER_TOKEN"),
    "gitlab-ci-job-token": (lambda: "glcbt-" + rand(URLSAFE, 24), "CI_JOB_TOKEN"),
    "gitlab-feed-token": (lambda: "glft-" + rand(URLSAFE, 20), "GITLAB_FEED_TOKEN"),
    "gitlab-scim-token": (lambda: "glsoat-" + rand(URLSAFE, 20), "GITLAB_SCIM_TOKEN"),
    "gitlab-oauth-secret": (lambda: "gloas-" + rand(URLSAFE, 64), "GITLAB_OAUTH_SECRET"),
    "gitlab-agent-token": (lambda: "glagent-" + rand(URLSAFE, 50), "GITLAB_AGENT_TOKEN"),
    "gitlab-incoming-mail-token": (lambda: "glimt-" + rand(URLSAFE, 25), "INCOMING_MAIL_TOKEN"),
    "gitlab-feature-flag-token": (lambda: "glffct-" + rand(URLSAFE, 20), "FEATURE_FLAG_TOKEN"),
    "slack-bot-token": (lambda: f"xoxb-{rand(string.digits, 12)}-{rand(string.digits, 13)}-{rand(B62, 24)}", "SLACK_BOT_TOKEN"),
    "slack-user-token": (
        lambda: f"xoxp-{rand(string.digits, 12)}-{rand(string.digits, 12)}-{rand(string.digits, 13)}-{rand(HEX, 32)}",
        "SLACK_MCP_XOXP_TOKEN",
    ),
    "slack-app-token": (
        lambda: f"xapp-1-A{rand(string.ascii_uppercase + string.digits, 10)}-{rand(string.digits, 13)}-{rand(HEX, 64)}",
        "SLACK_APP_TOKEN",
    ),
    "slack-config-token": (lambda: f"xoxe.xoxp-1-{rand(B62, 140)}", "SLACK_CONFIG_TOKEN"),
    "slack-session-token": (lambda: f"xoxc-{rand(string.digits, 12)}-{rand(string.digits, 12)}-{rand(HEX, 64)}", "SLACK_MCP_XOXC_TOKEN"),
    "slack-webhook-url": (
        lambda: f"https://hooks.slack.com/services/T{rand(string.ascii_uppercase + string.digits, 8)}/B{rand(string.ascii_uppercase + string.digits, 10)}/{rand(B62, 24)}",
        "SLACK_WEBHOOK_URL",
    ),
    "aws-access-key-id": (lambda: "AKIA" + rand(string.ascii_uppercase + "234567", 16), "AWS_ACCESS_KEY_ID"),
    "aws-temporary-access-key-id": (lambda: "ASIA" + rand(string.ascii_uppercase + "234567", 16), "AWS_ACCESS_KEY_ID"),
    "aws-secret-access-key": (lambda: rand(B64, 40), "AWS_SECRET_ACCESS_KEY"),
    "aws-session-token": (lambda: rand(B64, 300), "AWS_SESSION_TOKEN"),
    "aws-bedrock-api-key": (lambda: "ABSK" + rand(B64, 132), "AWS_BEARER_TOKEN_BEDROCK"),
    "openai-api-key": (lambda: f"sk-proj-{rand(URLSAFE, 74)}T3BlbkFJ{rand(URLSAFE, 74)}", "OPENAI_API_KEY"),
    "anthropic-api-key": (lambda: f"sk-ant-api03-{rand(URLSAFE, 93)}AA", "ANTHROPIC_API_KEY"),
    "anthropic-admin-key": (lambda: f"sk-ant-admin01-{rand(URLSAFE, 93)}AA", "ANTHROPIC_ADMIN_KEY"),
    "google-api-key": (lambda: "AIza" + rand(URLSAFE, 35), "GOOGLE_API_KEY"),
    "google-service-account-key": (
        lambda: json.dumps(
            {
                "type": "service_account",
                "project_id": "muster-fake",
                "private_key_id": rand(HEX, 40),
                "private_key": pem("PRIVATE KEY"),
                "client_email": "svc@muster-fake.iam.gserviceaccount.com",
            }
        ),
        "GOOGLE_SERVICE_ACCOUNT_JSON",
    ),
    "stripe-secret-key": (lambda: "sk_live_" + rand(B62, 99), "STRIPE_SECRET_KEY"),
    "stripe-restricted-key": (lambda: "rk_live_" + rand(B62, 99), "STRIPE_API_KEY"),
    "stripe-webhook-secret": (lambda: "whsec_" + rand(B62, 32), "STRIPE_WEBHOOK_SECRET"),
    "atlassian-api-token": (lambda: "ATATT3" + rand(URLSAFE + "=", 186), "JIRA_API_TOKEN"),
    "notion-token": (lambda: "ntn_" + rand(string.digits, 11) + rand(B62, 35), "NOTION_TOKEN"),
    "linear-api-key": (lambda: "lin_api_" + rand(B62, 40), "LINEAR_API_KEY"),
    "linear-oauth-token": (lambda: "lin_oauth_" + rand(B62, 64), "LINEAR_TOKEN"),
    "sentry-user-token": (lambda: "sntryu_" + rand(HEX, 64), "SENTRY_ACCESS_TOKEN"),
    "sentry-org-token": (sentry_org, "SENTRY_AUTH_TOKEN"),
    "sentry-auth-token": (lambda: rand(HEX, 64), "SENTRY_AUTH_TOKEN"),
    "datadog-api-key": (lambda: rand(HEX, 32), "DD_API_KEY"),
    "datadog-app-key": (lambda: rand(LOWER_ALNUM, 40), "DD_APP_KEY"),
    "cloudflare-api-token": (lambda: "cfut_" + rand(B62, 40) + rand(HEX, 8), "CLOUDFLARE_API_TOKEN"),
    "cloudflare-global-api-key": (lambda: rand(HEX, 37), "CLOUDFLARE_API_KEY"),
    "cloudflare-origin-ca-key": (lambda: f"v1.0-{rand(HEX, 24)}-{rand(HEX, 146)}", "CF_ORIGIN_CA_KEY"),
    "huggingface-token": (lambda: "hf_" + rand(string.ascii_letters, 34), "HF_TOKEN"),
    "huggingface-org-token": (lambda: "api_org_" + rand(string.ascii_letters, 34), "HUGGINGFACE_API_KEY"),
    "npm-token": (lambda: crc_token("npm_"), "NPM_TOKEN"),
    "pypi-token": (lambda: "pypi-AgEIcHlwaS5vcmc" + rand(URLSAFE, 140), "PYPI_API_TOKEN"),
    "supabase-pat": (lambda: "sbp_" + rand(HEX, 40), "SUPABASE_ACCESS_TOKEN"),
    "supabase-secret-key": (lambda: "sb_secret_" + rand(URLSAFE, 31), "SUPABASE_SECRET_KEY"),
    "twilio-api-key": (lambda: "SK" + rand(HEX, 32), "TWILIO_API_KEY"),
    "twilio-auth-token": (lambda: rand(HEX, 32), "TWILIO_AUTH_TOKEN"),
    "sendgrid-api-key": (lambda: f"SG.{rand(URLSAFE, 22)}.{rand(URLSAFE, 43)}", "SENDGRID_API_KEY"),
    "azure-ad-client-secret": (lambda: f"{rand(B62, 3)}{R.choice(string.digits)}Q~{rand(B62 + '_~.-', 34)}", "AZURE_CLIENT_SECRET"),
    "azure-devops-pat": (azdo, "ADO_MCP_AUTH_TOKEN"),
    "azure-storage-account-key": (lambda: rand(B64, 86) + "==", "AZURE_STORAGE_KEY"),
    "grafana-service-account-token": (lambda: f"glsa_{rand(B62, 32)}_{rand(HEX, 8)}", "GRAFANA_SERVICE_ACCOUNT_TOKEN"),
    "grafana-cloud-token": (lambda: "glc_" + rand(B64, 120), "GRAFANA_CLOUD_TOKEN"),
    "grafana-api-key": (
        lambda: base64.b64encode(json.dumps({"k": rand(B62, 32), "n": "mcp-" + rand(string.ascii_lowercase, 6), "id": R.randint(1, 99)}, separators=(",", ":")).encode()).decode(),
        "GRAFANA_API_KEY",
    ),
    "vault-service-token": (lambda: "hvs." + rand(URLSAFE, 95), "VAULT_TOKEN"),
    "vault-batch-token": (lambda: "hvb." + rand(URLSAFE, 150), "VAULT_TOKEN"),
    "terraform-api-token": (lambda: f"{rand(B62, 14)}.atlasv1.{rand(URLSAFE, 67)}", "TFE_TOKEN"),
    "doppler-token": (lambda: "dp.pt." + rand(B62, 43), "DOPPLER_TOKEN"),
    "databricks-token": (lambda: "dapi" + rand(HEX, 32), "DATABRICKS_TOKEN"),
    "digitalocean-token": (lambda: "dop_v1_" + rand(HEX, 64), "DIGITALOCEAN_API_TOKEN"),
    "postman-api-key": (lambda: f"PMAK-{rand(HEX, 24)}-{rand(HEX, 34)}", "POSTMAN_API_KEY"),
    "shopify-token": (lambda: "shpat_" + rand(HEX, 32), "SHOPIFY_ACCESS_TOKEN"),
    "heroku-api-key": (lambda: "HRKU-AA" + rand(URLSAFE, 58), "HEROKU_API_KEY"),
    "perplexity-api-key": (lambda: "pplx-" + rand(B62, 48), "PERPLEXITY_API_KEY"),
    "onepassword-service-account-token": (
        lambda: "ops_" + base64.b64encode(json.dumps({"signInAddress": "my.1password.com", "userAuth": {"method": "SRPg-4096", "alg": "PBES2g-HS256", "iterations": 650000, "salt": rand(URLSAFE, 22)}, "email": "svc@1passwordserviceaccounts.com", "srpX": rand(HEX, 64), "muk": {"alg": "A256GCM", "ext": True, "k": rand(URLSAFE, 43), "key_ops": ["encrypt", "decrypt"], "kty": "oct", "kid": "mp"}, "secretKey": "A3-" + rand(string.ascii_uppercase + string.digits, 30), "throttleSecret": {"seed": rand(HEX, 64), "deviceUuid": rand(LOWER_ALNUM, 26)}, "deviceUuid": rand(LOWER_ALNUM, 26)}).encode()).decode(),
        "OP_SERVICE_ACCOUNT_TOKEN",
    ),
    "pulumi-token": (lambda: "pul-" + rand(HEX, 40), "PULUMI_ACCESS_TOKEN"),
    "planetscale-token": (lambda: "pscale_tkn_" + rand(URLSAFE, 43), "PLANETSCALE_SERVICE_TOKEN"),
    "airtable-pat": (lambda: f"pat{rand(B62, 14)}.{rand(HEX, 64)}", "AIRTABLE_API_KEY"),
    "newrelic-key": (lambda: "NRAK-" + rand(string.ascii_uppercase + string.digits, 27), "NEW_RELIC_API_KEY"),
    "dynatrace-token": (
        lambda: f"dt0c01.{rand(string.ascii_uppercase + string.digits, 24)}.{rand(string.ascii_uppercase + string.digits, 64)}",
        "DT_API_TOKEN",
    ),
    "flyio-token": (lambda: "fo1_" + rand(URLSAFE, 43), "FLY_API_TOKEN"),
    "sourcegraph-token": (lambda: "sgp_" + rand(HEX, 40), "SRC_ACCESS_TOKEN"),
    "jfrog-api-key": (lambda: "AKCp" + rand(B62, 69), "JFROG_API_KEY"),
    "jfrog-reference-token": (lambda: "cmVmd" + rand(B62, 59), "JFROG_ACCESS_TOKEN"),
    "square-token": (lambda: "sq0atp-" + rand(URLSAFE, 22), "SQUARE_ACCESS_TOKEN"),
    "clickhouse-cloud-secret": (lambda: "4b1d" + rand(B62, 38), "CLICKHOUSE_API_SECRET"),
    "mailgun-api-key": (lambda: "key-" + rand(HEX, 32), "MAILGUN_API_KEY"),
    "mailchimp-api-key": (lambda: rand(HEX, 32) + "-us" + str(R.randint(1, 21)), "MAILCHIMP_API_KEY"),
    "okta-api-token": (lambda: "00" + rand(URLSAFE, 40), "OKTA_API_TOKEN"),
    "age-secret-key": (lambda: "AGE-SECRET-KEY-1" + rand("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58), "SOPS_AGE_KEY"),
    "github-legacy-pat": (lambda: rand(HEX, 40), "GITHUB_TOKEN"),
    "jwt": (lambda: jwt({"sub": rand(HEX, 12), "iss": "https://auth.example.com", "exp": 1893456000}), "MCP_ACCESS_TOKEN"),
    "private-key": (lambda: pem("RSA PRIVATE KEY"), "SSH_PRIVATE_KEY"),
    "openssh-private-key": (lambda: pem("OPENSSH PRIVATE KEY"), "DEPLOY_KEY"),
    "pgp-private-key": (lambda: pem("PGP PRIVATE KEY BLOCK"), "GPG_PRIVATE_KEY"),
    "kubernetes-secret-manifest": (
        lambda: f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: mcp\ndata:\n  token: {base64.b64encode(rand(B62, 24).encode()).decode()}\n",
        "K8S_SECRET_YAML",
    ),
}

rows = []


def add(label, location, name, value):
    rows.append((label, location, name, value))


# Provider-shaped values do not need a telling name: also place them under neutral names,
# in headers, flags and positional arguments.
NEUTRAL_FIELDS = ["field:apiKey", "field:token", "field:auth.token", "field:credentials"]
CONTEXT_ONLY = {
    "aws-secret-access-key", "aws-session-token", "sentry-auth-token", "datadog-api-key", "datadog-app-key",
    "cloudflare-global-api-key", "twilio-auth-token", "azure-storage-account-key", "github-legacy-pat", "okta-api-token",
}
MULTILINE = {"private-key", "openssh-private-key", "pgp-private-key", "kubernetes-secret-manifest", "google-service-account-key"}

for kind, (gen, env_name) in GENERATORS.items():
    add(kind, "env", env_name, gen())
    if kind in CONTEXT_ONLY:
        # Same shape, name still telling, but in an argument after a matching flag.
        flag = "--" + env_name.lower().replace("_", "-")
        add(kind, "arg", flag, gen())
        continue
    if kind in MULTILINE:
        add(kind, "field", R.choice(NEUTRAL_FIELDS).split(":", 1)[1], gen())
        continue
    if kind == "slack-webhook-url":
        add(kind, "url", "-", gen())
        add(kind, "arg", "--webhook", gen())
        continue
    add(kind, "header", "Authorization", "Bearer " + gen())
    add(kind, "arg", R.choice(["--token", "--api-key", "--access-token", "-t"]), gen())
    add(kind, "field", R.choice(NEUTRAL_FIELDS).split(":", 1)[1], gen())

# Embedded forms.
add("github-classic-pat", "arg", "-", "--token=" + crc_token("ghp_"))
add("github-classic-pat", "arg", "--header", "Authorization: Bearer " + crc_token("ghp_"))
add("stripe-secret-key", "arg", "-", "--api-key=sk_live_" + rand(B62, 99))
add("notion-token", "env", "OPENAPI_MCP_HEADERS", json.dumps({"Authorization": "Bearer ntn_" + rand(string.digits, 11) + rand(B62, 35), "Notion-Version": "2022-06-28"}))
add("github-classic-pat", "url", "-", "https://mcp.example.com/sse?token=" + crc_token("ghp_"))
add("generic-secret", "url", "-", "https://api.example.com/mcp?api_key=" + rand(B62, 32) + "&region=eu")
add("url-credentials", "url", "-", "https://deploy:" + rand(B62, 20) + "@git.example.com/acme/tools.git")
add("github-oauth-token", "arg", "-", "https://" + crc_token("gho_") + "@github.com/acme/private.git")
add("azure-storage-account-key", "env", "AZURE_STORAGE_CONNECTION_STRING",
    f"DefaultEndpointsProtocol=https;AccountName=musterfake;AccountKey={rand(B64, 86)}==;EndpointSuffix=core.windows.net")
add("azure-sas-token", "url", "-", f"https://musterfake.blob.core.windows.net/mcp?sv=2024-11-04&se=2026-12-31T00%3A00%3A00Z&sr=c&sp=rl&sig={rand(B62, 43)}%3D")
add("anthropic-api-key", "env", "CLAUDE_ENV", "export ANTHROPIC_API_KEY=sk-ant-api03-" + rand(URLSAFE, 93) + "AA")

# Legacy, name-dependent shapes.
add("atlassian-api-token", "env", "CONFLUENCE_API_TOKEN", rand(B62, 24))
add("npm-token", "env", "NPM_TOKEN", uuid())
add("heroku-api-key", "env", "HEROKU_API_KEY", uuid())
add("vault-service-token", "env", "VAULT_TOKEN", "s." + rand(B62, 24))
add("azure-devops-pat", "env", "AZURE_DEVOPS_PAT", rand(string.ascii_lowercase + "234567", 52))
add("cloudflare-api-token", "env", "CLOUDFLARE_API_TOKEN", rand(URLSAFE, 40))
add("cloudflare-global-api-key", "env", "CF_KEY", "cfk_" + rand(B62, 40) + rand(HEX, 8))

# Connection strings.
DB_URLS = [
    ("postgres-connection-string", "postgres://app:{p}@db.internal:5432/prod"),
    ("postgres-connection-string", "postgresql://readonly:{p}@localhost/analytics?sslmode=require"),
    ("postgres-connection-string", "postgresql://localhost:5432/app?user=svc&password={p}"),
    ("mysql-connection-string", "mysql://root:{p}@127.0.0.1:3306/shop"),
    ("mysql-connection-string", "mysql://reporting:{p}@mysql.prod.internal/reports"),
    ("mongodb-connection-string", "mongodb://admin:{p}@mongo-0:27017,mongo-1:27017/app?replicaSet=rs0"),
    ("mongodb-connection-string", "mongodb+srv://svc:{p}@cluster0.ab1cd.mongodb.net/app?retryWrites=true"),
    ("redis-connection-string", "redis://:{p}@cache:6379/0"),
    ("redis-connection-string", "rediss://default:{p}@cache.example.com:6380"),
    ("amqp-connection-string", "amqp://worker:{p}@rabbit:5672/jobs"),
    ("amqp-connection-string", "amqps://svc:{p}@mq.example.com/vhost"),
    ("jdbc-connection-string", "jdbc:postgresql://db:5432/app?user=app&password={p}"),
    ("jdbc-connection-string", "jdbc:sqlserver://db:1433;databaseName=app;user=sa;password={p}"),
    ("jdbc-connection-string", "jdbc:mysql://app:{p}@db/app"),
]
for kind, template in DB_URLS:
    add(kind, "env", R.choice(["DATABASE_URL", "DATABASE_URI", "MDB_MCP_CONNECTION_STRING", "REDIS_URL", "DSN"]), template.format(p=rand(B62, 16)))
    add(kind, "arg", "-", template.format(p=R.choice(["postgres", "hunter2", "s3cr3t!", rand(B62, 12)])))

# Authorization headers, passwords, generic secrets.
for _ in range(6):
    add("bearer-token", "header", "Authorization", "Bearer " + rand(URLSAFE, R.randint(24, 48)))
for _ in range(4):
    user = R.choice(["alice", "ci-bot", "svc_mcp", "jira@example.com"])
    add("basic-auth", "header", "Authorization", "Basic " + base64.b64encode(f"{user}:{rand(B62, 20)}".encode()).decode())
for name, value in [
    ("DB_PASSWORD", "postgres"), ("PGPASSWORD", rand(B62, 14)), ("MYSQL_PASS", "Sup3rS3cret!"), ("REDIS_PWD", rand(B62, 20)),
    ("CLICKHOUSE_PASSWORD", "ch-" + rand(LOWER_ALNUM, 10)), ("SMTP_PASSWORD", "letmein2024"), ("KEYSTORE_PASSPHRASE", "blue-harbor-lamp-42"),
]:
    add("password", "env", name, value)
add("password", "arg", "--password", rand(B62, 16))
add("password", "arg", "--db-password", "Winter2026!")
add("password", "field", "password", rand(B62, 18))
GENERIC_NAMES = ["BRAVE_API_KEY", "TAVILY_API_KEY", "EXA_API_KEY", "FIRECRAWL_API_KEY", "CONTEXT7_API_KEY", "APIFY_TOKEN",
                 "NEON_API_KEY", "PINECONE_API_KEY", "QDRANT_API_KEY", "MDB_MCP_API_CLIENT_SECRET", "PAGERDUTY_USER_API_KEY",
                 "POSTMARK_SERVER_TOKEN", "LD_ACCESS_TOKEN", "K8S_TOKEN", "SNOWFLAKE_PAT", "ES_API_KEY", "FIGMA_API_KEY"]
GENERIC_VALUES = [lambda: "BSA" + rand(B62, 28), lambda: "tvly-" + rand(B62, 32), uuid, lambda: "fc-" + rand(HEX, 32),
                  lambda: "ctx7sk-" + uuid(), lambda: "apify_api_" + rand(B62, 36), lambda: rand(LOWER_ALNUM, 64),
                  lambda: rand(B62, 32), lambda: rand(B64, 44), lambda: rand(URLSAFE, 40)]
# Values with a vendor prefix are that vendor's key whatever the name says (credentials.toml).
VENDOR_PREFIXES = [("tvly-", "tavily-api-key"), ("fc-", "firecrawl-api-key"), ("ctx7sk-", "context7-api-key"),
                   ("apify_api_", "apify-api-token")]
for name in GENERIC_NAMES:
    value = R.choice(GENERIC_VALUES)()
    label = next((k for p, k in VENDOR_PREFIXES if value.startswith(p)), "generic-secret")
    add(label, "env", name, value)
for flag in ["--api-key", "--token", "--client-secret", "--pat", "--auth-token"]:
    add("generic-secret", "arg", flag, rand(B62, 32))
for header in ["X-API-Key", "X-Auth-Token", "CONTEXT7_API_KEY", "apikey"]:
    add("generic-secret", "header", header, rand(B62, 36))
for field in ["apiKey", "clientSecret", "oauth.clientSecret", "auth.token"]:
    add("generic-secret", "field", field, rand(URLSAFE, 40))
# Checksum look-alikes under secret names: the provider's shape, marked as failing the checksum.
for prefix in ["ghp_", "gho_", "npm_"]:
    add("checksum-failed", "env", "GITHUB_TOKEN" if prefix != "npm_" else "NPM_TOKEN", bad_crc_token(prefix))

# ---------------------------------------------------------------- negatives
REFS = [
    "${env:GITHUB_PERSONAL_ACCESS_TOKEN}", "${input:github_token}", "${{ secrets.SENTRY_TOKEN }}", "{env:OPENAI_API_KEY}",
    "{file:~/.secrets/notion-token}", "${file:/run/secrets/slack}", "$(op read op://Dev/GitHub/token)",
    "${cmd: security find-generic-password -s muster -w}", "${GITHUB_TOKEN}", "${API_KEY:-}", "${STRIPE_KEY:-sk_test_placeholder}",
    "$GITHUB_TOKEN", "%GITHUB_TOKEN%", "op://Private/Linear/credential", "keychain:muster/slack-bot", "keyring:login/notion",
    "${user_config.api_key}", "{{ NOTION_TOKEN }}",
]
for ref in REFS:
    add("none", "env", R.choice(["GITHUB_TOKEN", "API_KEY", "SLACK_BOT_TOKEN", "NOTION_TOKEN", "OPENAI_API_KEY"]), ref)
for ref in ["Bearer ${env:API_TOKEN}", "Bearer ${input:pat}", "token $GH_TOKEN", "Bearer {env:LINEAR_API_KEY}", "Basic ${BASIC_CREDENTIALS}"]:
    add("none", "header", "Authorization", ref)
for flag, ref in [("--token", "${env:TOKEN}"), ("--api-key", "$STRIPE_SECRET_KEY"), ("--access-token", "${SUPABASE_ACCESS_TOKEN}")]:
    add("none", "arg", flag, ref)
add("none", "arg", "-", "--token=${GITHUB_TOKEN}")
add("none", "arg", "-", "postgresql://app:${DB_PASSWORD}@localhost:5432/app")
add("none", "env", "DATABASE_URL", "postgres://app:$PGPASSWORD@db:5432/app")
add("none", "url", "-", "https://mcp.example.com/sse?token=${env:MCP_TOKEN}")
for field, var in [("bearer_token_env_var", "GITHUB_TOKEN"), ("env_keys", "SLACK_BOT_TOKEN"), ("bearerTokenEnvVar", "KIMI_TOKEN"), ("api_key_env", "MISTRAL_API_KEY"), ("env_http_headers", "X_API_KEY")]:
    add("none", "field", field, var)

PLACEHOLDERS = ["", "<your-token>", "<GITHUB_PAT>", "YOUR_API_KEY", "your-api-key-here", "your_github_token", "xxx",
                "XXXXXXXXXXXXXXXX", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk-...", "changeme", "...", "****",
                "[YOUR_TOKEN]", "paste-token-here", "REPLACE_ME", "TODO", "sk_live_...", "null", "<redacted>"]
for p in PLACEHOLDERS:
    add("none", "env", R.choice(["GITHUB_TOKEN", "STRIPE_SECRET_KEY", "API_KEY", "DB_PASSWORD", "SLACK_BOT_TOKEN"]), p)
add("none", "header", "Authorization", "Bearer <token>")
add("none", "header", "Authorization", "Bearer YOUR_TOKEN_HERE")
add("none", "arg", "--password", "<password>")

# Ordinary configuration that is not a credential.
for name, value in [
    ("HOME", "/Users/dev"), ("PATH", "/usr/local/bin:/usr/bin:/bin"), ("NODE_ENV", "production"), ("LOG_LEVEL", "debug"),
    ("PORT", "8080"), ("MCP_TIMEOUT", "30000"), ("GITHUB_TOOLSETS", "repos,issues,pull_requests"),
    ("GITHUB_HOST", "https://github.example.com"), ("AWS_REGION", "eu-west-1"), ("AWS_PROFILE", "dev-admin"),
    ("GOOGLE_APPLICATION_CREDENTIALS", "/Users/dev/.config/gcloud/application_default_credentials.json"),
    ("KUBECONFIG", "~/.kube/config"), ("AZURE_CLIENT_ID", uuid()), ("AZURE_TENANT_ID", uuid()), ("REQUEST_ID", uuid()),
    ("SESSION_ID", uuid()), ("PROJECT_ID", uuid()), ("WORKSPACE_ID", rand(HEX, 24)), ("GIT_COMMIT", rand(HEX, 40)),
    ("IMAGE_DIGEST", "sha256:" + rand(HEX, 64)), ("CHECKSUM", rand(HEX, 64)), ("APP_VERSION", "1.12.3-beta.4+build.5"),
    ("NODE_VERSION", "22.11.0"), ("MCP_SERVER_VERSION", "v0.31.0"), ("CONFIG_B64", base64.b64encode(b'{"theme": "dark", "telemetry": false}').decode()),
    ("BANNER", base64.b64encode(b"Welcome to the Muster MCP gateway").decode()), ("ICON_DATA", base64.b64encode(b"not really a png, just some text").decode()),
    ("STRIPE_PUBLISHABLE_KEY", "pk_live_" + rand(B62, 99)), ("SUPABASE_PUBLISHABLE_KEY", "sb_publishable_" + rand(URLSAFE, 31)),
    ("TWILIO_ACCOUNT_SID", "AC" + rand(HEX, 32)), ("AWS_ACCESS_KEY_ID_FILE", "/run/secrets/aws_key_id"),
    ("GITHUB_TOKEN_PATH", "~/.config/gh/token"), ("AUTH_TYPE", "oauth"), ("AUTH_ENABLED", "true"), ("TOKEN_TTL", "3600"),
    ("SECRET_NAME", "prod/mcp/github"), ("API_KEY_HEADER", "X-API-Key"), ("PASSWORD_FILE", "/run/secrets/db_password"),
    ("MDB_MCP_READ_ONLY", "true"), ("SLACK_TEAM_ID", "T" + rand(string.ascii_uppercase + string.digits, 10)),
    ("SLACK_CHANNEL_IDS", "C" + rand(string.ascii_uppercase + string.digits, 10) + ",C" + rand(string.ascii_uppercase + string.digits, 10)),
    ("JIRA_URL", "https://acme.atlassian.net"), ("JIRA_USERNAME", "dev@example.com"), ("CONFLUENCE_SPACES_FILTER", "DEV,OPS"),
    ("SENTRY_HOST", "sentry.io"), ("DD_SITE", "datadoghq.eu"), ("GRAFANA_URL", "http://localhost:3000"),
    ("OPENAI_BASE_URL", "https://api.openai.com/v1"), ("ANTHROPIC_MODEL", "claude-sonnet-4-5"), ("DATABASE_URL", "postgres://app@db.internal:5432/prod"),
    ("REDIS_URL", "redis://cache:6379/0"), ("MONGODB_URI", "mongodb://localhost:27017/app"), ("DATABASE_URL", "postgresql://user:password@localhost:5432/mydb"),
    ("DATABASE_URL", "mysql://<user>:<password>@host/db"), ("ALLOWED_ORIGINS", "https://a.example.com,https://b.example.com"),
    ("GITHUB_TOKEN", "ghp_" + "0" * 36), ("GH_TOKEN", ""), ("NOTION_VERSION", "2022-06-28"), ("JWT_ALGORITHM", "RS256"),
    ("PRIVATE_KEY_PATH", "~/.ssh/id_ed25519"), ("SSH_AUTH_SOCK", "/private/tmp/com.apple.launchd.abc/Listeners"),
    ("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/"), ("PYTHONPATH", "/opt/mcp/lib"), ("TZ", "Europe/Berlin"),
    ("LANG", "en_US.UTF-8"), ("MAX_TOKENS", "4096"), ("TOKENIZER", "cl100k_base"), ("KEYBOARD_LAYOUT", "de"),
    ("API_KEY", "test-key-123"), ("AUTHOR", "Jane Developer"), ("PUBLIC_KEY", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rand(B64, 43) + " dev@laptop"),
]:
    add("none", "env", name, value)
for prev, value in [
    ("-", "-y"), ("-y", "@modelcontextprotocol/server-github"), ("-", "mcp-server-fetch"), ("--port", "8080"),
    ("--config", "./mcp.json"), ("--root", "/Users/dev/projects/muster"), ("-", "--read-only"), ("--transport", "stdio"),
    ("-", "--toolsets=repos,issues"), ("--region", "us-east-1"), ("-", "run"), ("run", "-i"), ("-i", "--rm"), ("-", "-e"),
    ("-e", "GITHUB_PERSONAL_ACCESS_TOKEN"), ("-", "ghcr.io/github/github-mcp-server:v0.31.0"),
    ("-", "mcp/postgres@sha256:" + rand(HEX, 64)), ("--image", "docker.io/acme/mcp:" + rand(HEX, 12)),
    ("--project-ref", rand(string.ascii_lowercase, 20)), ("--workspace", uuid()), ("--session-id", uuid()),
    ("-", "postgresql://localhost/mydb"), ("--db", "postgres://app@db:5432/app"), ("--token-file", "~/.config/mcp/token"),
    ("--api-key-env", "STRIPE_SECRET_KEY"), ("--auth", "oauth"), ("--header", "Accept: application/json"),
    ("-", bad_crc_token("ghp_")), ("--model", "gpt-4.1-mini"), ("--max-tokens", "8192"),
]:
    # A GitHub look-alike with a bad checksum keeps GitHub's shape: reported as checksum-failed.
    add("checksum-failed" if value.startswith("ghp_") else "none", "arg", prev, value)
for url in [
    "https://api.githubcopilot.com/mcp/", "http://localhost:3000/sse", "https://mcp.example.com/sse?transport=sse&region=eu",
    "https://mcp.linear.app/sse", "https://mcp.notion.com/mcp", "https://mcp.sentry.dev/mcp?org=acme", "http://127.0.0.1:8931/mcp",
    "https://mcp.atlassian.com/v1/sse", "https://example.com/mcp?page=2&limit=50", "wss://realtime.example.com/mcp",
    "https://user@git.example.com/repo.git", "https://mcp.example.com/mcp?api_key=", "https://mcp.example.com/mcp?key=<your-key>",
]:
    add("none", "url", "-", url)
for header, value in [
    ("Accept", "application/json, text/event-stream"), ("Content-Type", "application/json"), ("User-Agent", "muster-agent/0.1"),
    ("X-Request-Id", uuid()), ("Notion-Version", "2022-06-28"), ("MCP-Protocol-Version", "2025-06-18"), ("Authorization", "Bearer"),
    ("X-Org-Id", rand(HEX, 24)), ("Authorization", "Basic " + base64.b64encode(b"alice").decode()),
]:
    add("none", "header", header, value)
for field, value in [
    ("command", "npx"), ("type", "stdio"), ("cwd", "/Users/dev/work"), ("description", "GitHub tools for the team"),
    ("clientId", uuid()), ("oauth.scopes", "repo read:org"), ("envFile", "${workspaceFolder}/.env"), ("timeout", "60000"),
    ("auth.type", "bearer"), ("auth.tokenUrl", "https://auth.example.com/oauth/token"),
]:
    add("none", "field", field, value)

# Harder cases, written after the rules: realistic values the rules were not tuned on.
for name, value in [
    ("GITHUB_DYNAMIC_TOOLSETS", "1"), ("NODE_OPTIONS", "--max-old-space-size=4096"), ("DOCKER_HOST", "unix:///var/run/docker.sock"),
    ("HTTP_PROXY", "http://proxy.corp.example:3128"), ("HTTPS_PROXY", "http://svc:${PROXY_PASSWORD}@proxy.corp.example:8080"),
    ("AZURE_SUBSCRIPTION_ID", uuid()), ("ORG_ID", uuid()), ("TENANT_ID", uuid()), ("PARTITION_KEY", "tenant_id"),
    ("S3_KEY", "uploads/2026/report.pdf"), ("TOKEN_CACHE", "C:\\Users\\dev\\AppData\\Roaming\\mcp\\tokens.json"),
    ("AUTH_SERVER_URL", "https://auth.example.com/realms/dev"), ("OAUTH_CALLBACK_PORT", "3334"), ("LINEAR_TEAM_KEY", "ENG"),
    ("SIGNING_KEY_ID", rand(HEX, 16)), ("AZURE_OPENAI_ENDPOINT", "https://acme.openai.azure.com/"), ("SLACK_CHANNEL_ID", "C0" + rand(string.ascii_uppercase + string.digits, 9)),
    ("MAPBOX_PUBLIC_TOKEN", "pk.eyJ1IjoiYWNtZSIsImEiOiJjbGZha2UifQ." + rand(URLSAFE, 22)), ("FIGMA_FILE_KEY", rand(B62, 22)),
    ("SENTRY_DSN", f"https://{rand(HEX, 32)}@o{R.randint(100000, 999999)}.ingest.sentry.io/{R.randint(1000000, 9999999)}"),
    ("JWT_AUDIENCE", "https://api.example.com"), ("KEY_VAULT_NAME", "kv-acme-dev"), ("SECRETS_PROVIDER", "aws-secretsmanager"),
    ("PASSWORD_MIN_LENGTH", "12"), ("API_KEY_PREFIX", "sk-"), ("TOKEN_ENDPOINT", "https://oauth2.googleapis.com/token"),
]:
    add("none", "env", name, value)
add("none", "header", "Cookie", "theme=dark; lang=en")
add("none", "header", "X-Goog-User-Project", "acme-dev-123456")
add("none", "arg", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN=${GITHUB_PERSONAL_ACCESS_TOKEN}")
add("none", "arg", "--allowed-origins", "https://a.example.com,https://b.example.com")
add("none", "arg", "--api-key", "$(cat ~/.config/brave/key)")
add("generic-secret", "env", "SECRET_KEY_BASE", rand(HEX, 128))
add("generic-secret", "env", "ENCRYPTION_KEY", base64.b64encode(bytes(R.getrandbits(8) for _ in range(32))).decode())
add("generic-secret", "arg", "--header", "X-API-Key: " + rand(B62, 32))
add("generic-secret", "header", "Cookie", "session=" + rand(URLSAFE, 40) + "; theme=dark")
add("bearer-token", "env", "MCP_REMOTE_HEADERS", "Authorization:Bearer " + rand(URLSAFE, 40))
add("password", "env", "SNOWFLAKE_PASSWORD", "Tr0ub4dor&3")
add("password", "env", "KEEPASS_PASSWORD", "correct horse battery staple")
add("password", "arg", "--passphrase", "blue harbor lamp 42")
add("postgres-connection-string", "env", "DATABASE_URL", "postgres://app:p%40ss%3Aw0rd@db.internal:5432/app")
add("github-classic-pat", "env", "GIT_ASKPASS_TOKEN", "'" + crc_token("ghp_") + "'")


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


print("# label\tlocation\tname\tvalue  (generated by gen_secret_corpus.py; all values are fake)")
for label, location, name, value in rows:
    print(f"{label}\t{location}\t{esc(name)}\t{esc(value)}")
