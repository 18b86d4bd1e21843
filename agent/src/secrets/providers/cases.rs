//! Generated positive and near-miss samples per provider rule (all fake), written by
//! `agent/tests/data/gen_provider_cases.py`. Near misses: the first letter's case flipped
//! (where the prefix is case-sensitive), the first 12 characters, and per-rule breakages of
//! the marker or checksum.

pub(super) const CASES: &[(&str, &str, &[&str])] = &[
    (
        "github-classic-pat",
        "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",
        &["Ghp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL", "ghp_Ky9Pf34q", "ghp_Eeeby3abP3E2Zs8IQ9Y7aJZqhB6bae2dTjzA"],
    ),
    (
        "github-oauth-token",
        "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",
        &["Gho_CN6Zj4a3dDVhYRnKTbxTNJFoBinF5a42GyMy", "gho_CN6Zj4a3", "gho_JXVuLkSIc47WQAmL9xVQ2zg4mZaouq416qWA"],
    ),
    (
        "github-user-to-server-token",
        "ghu_KLiMcVbpT4r5yHUig43kiJfahqSIjO2WghHl",
        &["Ghu_KLiMcVbpT4r5yHUig43kiJfahqSIjO2WghHl", "ghu_KLiMcVbp", "ghu_ugM1yTMAd7V3DnI8lFPPwtV5ASPZHu0FecsA"],
    ),
    (
        "github-installation-token",
        "ghs_8qRtZHjQMhuOzE95B9EgE0VrbBGI0936rLzq",
        &["Ghs_8qRtZHjQMhuOzE95B9EgE0VrbBGI0936rLzq", "ghs_8qRtZHjQ", "ghs_QYNdaKy8isWydfhl3TvtnythpZPPPP1GLsHA"],
    ),
    (
        "github-refresh-token",
        "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",
        &["Ghr_6UeP3C4DSA7Lc360a9Y6yNd14tDdO90II0df", "ghr_6UeP3C4D", "ghr_eGzMcNU77sVTUUJ596lLlGUriAX1Dy2gnX7A"],
    ),
    (
        "github-fine-grained-pat",
        "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",
        &[
            "Github_pat_yXN9iYw1mXJft5isGXNwAM_nEYYnWLeEdpomsCpFqPlpECXVMk11oHUGCiczMSpxkMzN5E6EUCLDUdvdr0",
            "github_pat_y",
        ],
    ),
    ("gitlab-pat", "glpat-ziAFnPzMtgBoxpAKLG3J", &["Glpat-ziAFnPzMtgBoxpAKLG3J", "glpat-ziAFnP"]),
    ("gitlab-deploy-token", "gldt-xIyiJG21DHtOR3WRbUfX", &["Gldt-xIyiJG21DHtOR3WRbUfX", "gldt-xIyiJG2"]),
    ("gitlab-runner-token", "glrt-rG7jwrGJ2uN0JMIyF7fz", &["Glrt-rG7jwrGJ2uN0JMIyF7fz", "glrt-rG7jwrG"]),
    (
        "gitlab-trigger-token",
        "glptt-3176813e02ea68ef786e4d3cea27d26934b484e7",
        &["Glptt-3176813e02ea68ef786e4d3cea27d26934b484e7", "glptt-317681"],
    ),
    ("gitlab-ci-job-token", "glcbt-Co_KSKtphrPjeBk2hwu2ngb8", &["Glcbt-Co_KSKtphrPjeBk2hwu2ngb8", "glcbt-Co_KSK"]),
    ("gitlab-feed-token", "glft-ETDAXY5NYGsXpJ-fBZ7N", &["Glft-ETDAXY5NYGsXpJ-fBZ7N", "glft-ETDAXY5"]),
    ("gitlab-scim-token", "glsoat-s9Y2BXAS8XFw1hrYG5UE", &["Glsoat-s9Y2BXAS8XFw1hrYG5UE", "glsoat-s9Y2B"]),
    (
        "gitlab-oauth-secret",
        "gloas-KX6NPddQbvMYi2W412OyVvDt-odRThPHpi6G19WtK7AmaVb5wNKYv0XkgfV4dRjN",
        &["Gloas-KX6NPddQbvMYi2W412OyVvDt-odRThPHpi6G19WtK7AmaVb5wNKYv0XkgfV4dRjN", "gloas-KX6NPd"],
    ),
    (
        "gitlab-agent-token",
        "glagent-0gmAyZPV0BXBIp5o2ccTAJnf-JaI5sH2TA35HkDmv62V_X0w8B",
        &["Glagent-0gmAyZPV0BXBIp5o2ccTAJnf-JaI5sH2TA35HkDmv62V_X0w8B", "glagent-0gmA"],
    ),
    (
        "gitlab-incoming-mail-token",
        "glimt-8yW9XUQTw-m9za5P9IgWcH1z7",
        &["Glimt-8yW9XUQTw-m9za5P9IgWcH1z7", "glimt-8yW9XU"],
    ),
    ("gitlab-feature-flag-token", "glffct-_YCR_baxxxFPdAy2bw9v", &["Glffct-_YCR_baxxxFPdAy2bw9v", "glffct-_YCR_"]),
    (
        "slack-config-token",
        "xoxe.xoxp-1-HODwyxD4b59lXGyN8cqeWHu7jNEVvuVP1A0yVhSPJk9QMOK7rL0KmLrP7yxCj0vlIGN4POtb4NxRmHs3H63rgIex9FHRWKCnNozRu1pmePwuyZZDk53xkQSdm8ftIV3wxZ8AUQLIJGll",
        &[
            "Xoxe.xoxp-1-HODwyxD4b59lXGyN8cqeWHu7jNEVvuVP1A0yVhSPJk9QMOK7rL0KmLrP7yxCj0vlIGN4POtb4NxRmHs3H63rgIex9FHRWKCnNozRu1pmePwuyZZDk53xkQSdm8ftIV3wxZ8AUQLIJGll",
            "xoxe.xoxp-1-",
        ],
    ),
    (
        "slack-bot-token",
        "xoxb-463478612213-8783757628331-BLZ5KFNGpaCu1ltQOQlXDOHL",
        &["Xoxb-463478612213-8783757628331-BLZ5KFNGpaCu1ltQOQlXDOHL", "xoxb-4634786"],
    ),
    (
        "slack-user-token",
        "xoxp-074952883143-667640206797-0168773132281-e210471948d33296c87009e8a7f770d9",
        &["Xoxp-074952883143-667640206797-0168773132281-e210471948d33296c87009e8a7f770d9", "xoxp-0749528"],
    ),
    (
        "slack-app-token",
        "xapp-1-ADBM50FQO1X-3705656304813-f6967e7893f57fd14c1604d115cea325a65e19cbae530282bd36cb9d21f6be6a",
        &[
            "Xapp-1-ADBM50FQO1X-3705656304813-f6967e7893f57fd14c1604d115cea325a65e19cbae530282bd36cb9d21f6be6a",
            "xapp-1-ADBM5",
        ],
    ),
    (
        "slack-session-token",
        "xoxc-570636060710-431955459045-8902073fec8df4f50947aaeb26c57d21fa5d328263dfe574de739988b886e757",
        &[
            "Xoxc-570636060710-431955459045-8902073fec8df4f50947aaeb26c57d21fa5d328263dfe574de739988b886e757",
            "xoxc-5706360",
        ],
    ),
    (
        "slack-webhook-url",
        "https://hooks.slack.com/services/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",
        &["Https://hooks.slack.com/services/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", "https://hook"],
    ),
    ("aws-access-key-id", "AKIA4QAGWNCXVJCNQCNA", &["aKIA4QAGWNCXVJCNQCNA", "AKIA4QAGWNCX"]),
    ("aws-temporary-access-key-id", "ASIAU2XLTENC76E2GZJF", &["aSIAU2XLTENC76E2GZJF", "ASIAU2XLTENC"]),
    (
        "aws-bedrock-api-key",
        "ABSKKoYqadr6djrr2kPopQ0tKsEBpkwKG16IoBlLIiaKL8Dn+PcG5ze6nBKSpPyNR5pKnjFJVO54fFnwdrdVsnlvuM20+xUvwMypD8GjtkBu55GAeA6mH38EOG+aLS8iWKfZwIWz",
        &[
            "aBSKKoYqadr6djrr2kPopQ0tKsEBpkwKG16IoBlLIiaKL8Dn+PcG5ze6nBKSpPyNR5pKnjFJVO54fFnwdrdVsnlvuM20+xUvwMypD8GjtkBu55GAeA6mH38EOG+aLS8iWKfZwIWz",
            "ABSKKoYqadr6",
        ],
    ),
    (
        "openai-api-key",
        "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",
        &[
            "Sk-proj-QXUel4PNpKZfmLXE6kvDWolXmlIkgAuTM6bWde04SJbtrk6G_T5260jcDjSqcHQkyKH1VJvC8IT3BlbkFJYpX17iu-VL0573pNUK7D1PIqPrMd8c6z0mtxAvMSDXT4FgX6YtXbRA1LXUPKfOngUmyy03tTdR",
            "sk-proj-QXUe",
            "sk-proj-QXUel4PNpKZfmLXE6kvDWolXmlIkgAuTM6bWde04SJbtrk6G_T5260jcDjSqcHQkyKH1VJvC8IT3BlbkFKYpX17iu-VL0573pNUK7D1PIqPrMd8c6z0mtxAvMSDXT4FgX6YtXbRA1LXUPKfOngUmyy03tTdR",
        ],
    ),
    (
        "anthropic-api-key",
        "sk-ant-api03-o9LI43EDKiI335H5858kP8nDVQQE44BazCGCQbehsX2iWa6lfya3q3tCiy6RBaLt0Pa60i_C_N-iXKaRT-LEA_DfjCpoBAA",
        &[
            "Sk-ant-api03-o9LI43EDKiI335H5858kP8nDVQQE44BazCGCQbehsX2iWa6lfya3q3tCiy6RBaLt0Pa60i_C_N-iXKaRT-LEA_DfjCpoBAA",
            "sk-ant-api03",
            "sk-ant-api03-o9LI43EDKiI335H5858kP8nDVQQE44BazCGCQbehsX2iWa6lfya3q3tCiy6RBaLt0Pa60i_C_N-iXKaRT-LEA_DfjCpoBAB",
        ],
    ),
    (
        "anthropic-admin-key",
        "sk-ant-admin01-s3lQcXsLmTwG4ifJvfLxuWTGgxUOYcJJVfiKUfOXDLDPnJIcctZPDDZQnx41ptSbx2IWp0VtrTTNFwteXCrVpKWszw2qNAA",
        &[
            "Sk-ant-admin01-s3lQcXsLmTwG4ifJvfLxuWTGgxUOYcJJVfiKUfOXDLDPnJIcctZPDDZQnx41ptSbx2IWp0VtrTTNFwteXCrVpKWszw2qNAA",
            "sk-ant-admin",
            "sk-ant-admin01-s3lQcXsLmTwG4ifJvfLxuWTGgxUOYcJJVfiKUfOXDLDPnJIcctZPDDZQnx41ptSbx2IWp0VtrTTNFwteXCrVpKWszw2qNAB",
        ],
    ),
    (
        "google-api-key",
        "AIzaf1n_D4WRKPiCwQy2lhqwQNoFj7WZmp719rr",
        &["aIzaf1n_D4WRKPiCwQy2lhqwQNoFj7WZmp719rr", "AIzaf1n_D4WR"],
    ),
    (
        "stripe-secret-key",
        "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",
        &[
            "Sk_live_eihMbG6EJlPyzXEpzPTDA8xn4ppeCUfZkEqz9MgerqoqQTImZf8nrUMosEHjOhGRhBU0pkpHMFfJKUVRde5gvN9xJsO35qavKoy",
            "sk_live_eihM",
            "pk_live_eihMbG6EJlPyzXEpzPTDA8xn4ppeCUfZkEqz9MgerqoqQTImZf8nrUMosEHjOhGRhBU0pkpHMFfJKUVRde5gvN9xJsO35qavKoy",
        ],
    ),
    (
        "stripe-restricted-key",
        "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",
        &[
            "Rk_live_8XrMeb0g0Dy4fIGc6b9sEBnSMo9DvPoYAdvico5gvvZoerJCViDX5lrSgu7Z7GQEq8UVZ3UTv9iVFVAYctl0ArKTiaVgIrTNRQz",
            "rk_live_8XrM",
        ],
    ),
    (
        "stripe-webhook-secret",
        "whsec_h4BeNef11d2hlxLp6WUVmv92DjQe8L6t",
        &["Whsec_h4BeNef11d2hlxLp6WUVmv92DjQe8L6t", "whsec_h4BeNe"],
    ),
    (
        "atlassian-api-token",
        "ATATT3khyQathsW6bbj-pg=Y=iQ-FgOecGB5pp6pcD05Oy7=mIAR5wMCN4rC1lHdXcNr4e2t6-5Frpv81nJyqDAyRJ1s01FBRFGy2ZVvN6kIAb-wW64171AnddL_7eluyLIEkKrznvYgbZ7g1JdsVmnmTva0fXYsK5aIIZ-iA_mPTd7oxQW1nwBj8ToXfz=P",
        &[
            "aTATT3khyQathsW6bbj-pg=Y=iQ-FgOecGB5pp6pcD05Oy7=mIAR5wMCN4rC1lHdXcNr4e2t6-5Frpv81nJyqDAyRJ1s01FBRFGy2ZVvN6kIAb-wW64171AnddL_7eluyLIEkKrznvYgbZ7g1JdsVmnmTva0fXYsK5aIIZ-iA_mPTd7oxQW1nwBj8ToXfz=P",
            "ATATT3khyQat",
        ],
    ),
    (
        "notion-token",
        "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",
        &["Ntn_33312459956nXs9F2xVNt6NeTo59Kc1MHXc162DttaVbaD", "ntn_33312459"],
    ),
    (
        "linear-api-key",
        "lin_api_GxnHR6ySnbqcz8Gr2LCBO5132ZNtjTVyswv4tceP",
        &["Lin_api_GxnHR6ySnbqcz8Gr2LCBO5132ZNtjTVyswv4tceP", "lin_api_GxnH"],
    ),
    (
        "linear-oauth-token",
        "lin_oauth_x7jz5GKaEf5zwgWPBSsANzFkEB2yGyM3vZv1rw3GoWjlfmU369Km0yChlJbbSmf6",
        &["Lin_oauth_x7jz5GKaEf5zwgWPBSsANzFkEB2yGyM3vZv1rw3GoWjlfmU369Km0yChlJbbSmf6", "lin_oauth_x7"],
    ),
    (
        "sentry-user-token",
        "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",
        &["Sntryu_fab8c3bfc5e740e61572b4e3c02eaa7f3b4a715e4e48dd74089a58f3aef3416f", "sntryu_fab8c"],
    ),
    (
        "sentry-org-token",
        "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",
        &[
            "Sntrys_eyJpYXQiOiAxNzY3MjI1NjAwLjAsICJ1cmwiOiAiaHR0cHM6Ly9zZW50cnkuaW8iLCAicmVnaW9uX3VybCI6ICJodHRwczovL3VzLnNlbnRyeS5pbyIsICJvcmciOiAiYWNtZSJ9_aFWPktXUUCnbrK7bI2uhHu0aNkt5qRZNHNTMPAB/ZMQ",
            "sntrys_eyJpY",
            "sntrys_eyJub3RpYXQiOjF9AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        ],
    ),
    (
        "cloudflare-api-token",
        "cfut_8dgjepCbJC04ikXQrkw3XpMLIretyV50QwmU8tgH75b15b0b",
        &["Cfut_8dgjepCbJC04ikXQrkw3XpMLIretyV50QwmU8tgH75b15b0b", "cfut_8dgjepC"],
    ),
    (
        "cloudflare-global-api-key",
        "cfk_XxSzX47MjFqrtwKnjtOamv3It6zkVSW1XpY81Fz575539800",
        &["Cfk_XxSzX47MjFqrtwKnjtOamv3It6zkVSW1XpY81Fz575539800", "cfk_XxSzX47M"],
    ),
    (
        "cloudflare-origin-ca-key",
        "v1.0-3680e7e3b35183ef8333c477-4ec50cd1c1bac7adac1a4b7d0b352ad6074dce1118813830d71939b53182e4e349d98729e7c6be9ff907a76cc0b57aaf89691052be1ceb374dab4683f84d30d3fc4d83cee9b9bcca0f",
        &[
            "V1.0-3680e7e3b35183ef8333c477-4ec50cd1c1bac7adac1a4b7d0b352ad6074dce1118813830d71939b53182e4e349d98729e7c6be9ff907a76cc0b57aaf89691052be1ceb374dab4683f84d30d3fc4d83cee9b9bcca0f",
            "v1.0-3680e7e",
        ],
    ),
    (
        "huggingface-token",
        "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",
        &["Hf_yCtlItZjBKyLofvuMpunBabdqKFtIXtINB", "hf_yCtlItZjB"],
    ),
    (
        "huggingface-org-token",
        "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",
        &["Api_org_HHURByDwcMRwCaReHogAxGzPJKjmAFzCXN", "api_org_HHUR"],
    ),
    (
        "npm-token",
        "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",
        &["Npm_vbLiXlq5ANKN4qJWB7fvIiLqxWuQeA26dy2L", "npm_vbLiXlq5", "npm_XIqWDWvCQB3eac6Maeek2iQ0o0JjiZ1C3dNA"],
    ),
    (
        "pypi-token",
        "pypi-AgEIcHlwaS5vcmc0coC13PM-YIPqFIKD3C9L_xt71fIUjZL4YC8iOvn26So5u6UVS5KMe0wcrW-8VnSqdp_2VBMLjmN0bokEgngp8FsiVnOxaiUt4Z3hJUGBPYGuxUKljRpmQcyQTvGXulVpRGFBYn3Id1n",
        &[
            "Pypi-AgEIcHlwaS5vcmc0coC13PM-YIPqFIKD3C9L_xt71fIUjZL4YC8iOvn26So5u6UVS5KMe0wcrW-8VnSqdp_2VBMLjmN0bokEgngp8FsiVnOxaiUt4Z3hJUGBPYGuxUKljRpmQcyQTvGXulVpRGFBYn3Id1n",
            "pypi-AgEIcHl",
            "pypi-AgEIcHlwaS5uZXQ0coC13PM-YIPqFIKD3C9L_xt71fIUjZL4YC8iOvn26So5u6UVS5KMe0wcrW-8VnSqdp_2VBMLjmN0bokEgngp8FsiVnOxaiUt4Z3hJUGBPYGuxUKljRpmQcyQTvGXulVpRGFBYn3Id1n",
        ],
    ),
    (
        "supabase-pat",
        "sbp_257a632b96292794c9bce4850bbd0e7cb3593871",
        &["Sbp_257a632b96292794c9bce4850bbd0e7cb3593871", "sbp_257a632b"],
    ),
    (
        "supabase-secret-key",
        "sb_secret_p5KtPcJm5dMT-Wti0Ea56VE4eQiBroS",
        &["Sb_secret_p5KtPcJm5dMT-Wti0Ea56VE4eQiBroS", "sb_secret_p5"],
    ),
    (
        "twilio-api-key",
        "SK82bdeae16d4f6185578715bbd26944ff",
        &["sK82bdeae16d4f6185578715bbd26944ff", "SK82bdeae16d", "AC82bdeae16d4f6185578715bbd26944ff"],
    ),
    (
        "sendgrid-api-key",
        "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",
        &["sG.UU0uHicHIUgFsLJxpQEb1k._Q57ZcPEdvEKfuxkbL951x_AgXD_t_Of1jBaWVAH33o", "SG.UU0uHicHI"],
    ),
    (
        "azure-ad-client-secret",
        "r9I5Q~NLDdfmNjeTlHlWU75Dp6R~s~KcAITKHupB",
        &["r9I5Q~NLDdfm", "r9I5Q-NLDdfmNjeTlHlWU75Dp6R~s~KcAITKHupB"],
    ),
    (
        "azure-devops-pat",
        "2sSUCDkN02rdsroWR9I4g3WjQuL4S0gzqBvkAOI0SpahMaCU5YKXTRYwet9Pzcd5pp3khLcgJaaQAZDOyNUg",
        &["2sSUCDkN02rd", "2sSUCDkN02rdsroWR9I4g3WjQuL4S0gzqBvkAOI0SpahMaCU5YKXTRYwet9Pzcd5pp3khLcgJaaQAZDXyNUg"],
    ),
    (
        "grafana-service-account-token",
        "glsa_f8JtLXue1sCEhlSi59gbNZbyQNXFaSPG_37563783",
        &["Glsa_f8JtLXue1sCEhlSi59gbNZbyQNXFaSPG_37563783", "glsa_f8JtLXu"],
    ),
    (
        "grafana-cloud-token",
        "glc_OW+TwSEAq9uHEDwoLOyBHl7pU6l51RwcFHsBPEjLkh1WFUlj+5jCjfE4VWjOv2uE2+E9XNJbmIWYu13hJ+z449NoyKvoT9kgRdG5RLkxgxnje0gzgT2Vw5II",
        &[
            "Glc_OW+TwSEAq9uHEDwoLOyBHl7pU6l51RwcFHsBPEjLkh1WFUlj+5jCjfE4VWjOv2uE2+E9XNJbmIWYu13hJ+z449NoyKvoT9kgRdG5RLkxgxnje0gzgT2Vw5II",
            "glc_OW+TwSEA",
        ],
    ),
    (
        "grafana-api-key",
        "eyJrIjoiSE9INFdHTWFhWGJ6OGkyd1p2bjZ0Q25SZWFlNk5vSW8iLCJuIjoibWNwLXpoemV2YyIsImlkIjozOX0=",
        &["EyJrIjoiSE9INFdHTWFhWGJ6OGkyd1p2bjZ0Q25SZWFlNk5vSW8iLCJuIjoibWNwLXpoemV2YyIsImlkIjozOX0=", "eyJrIjoiSE9I"],
    ),
    (
        "vault-service-token",
        "hvs.hkVipg7hfzlVUiJHQ0wpvocL8IcdWh9OAMcjxjs8_eMZW2LYU2R6pvPaCPU7G6A9hH0OY1f3Rff3_phM7r5Bg-pWx13ee7r",
        &[
            "Hvs.hkVipg7hfzlVUiJHQ0wpvocL8IcdWh9OAMcjxjs8_eMZW2LYU2R6pvPaCPU7G6A9hH0OY1f3Rff3_phM7r5Bg-pWx13ee7r",
            "hvs.hkVipg7h",
        ],
    ),
    (
        "vault-batch-token",
        "hvb.gKB2JQIBjksiJgTXz4dwZkZGW1yCkJTpB3HF7QNXkJMK3iVu-RinwRf3D18pi7TmqmS3W2XtUTjQfsZc-RKzYHcaBg0_VKevR6Qk5uNtHc3EJ1HcJjCLxoBrhog4UP14HTtD26e8EF_Hs0MSIEj-9i",
        &[
            "Hvb.gKB2JQIBjksiJgTXz4dwZkZGW1yCkJTpB3HF7QNXkJMK3iVu-RinwRf3D18pi7TmqmS3W2XtUTjQfsZc-RKzYHcaBg0_VKevR6Qk5uNtHc3EJ1HcJjCLxoBrhog4UP14HTtD26e8EF_Hs0MSIEj-9i",
            "hvb.gKB2JQIB",
        ],
    ),
    (
        "terraform-api-token",
        "DszuEk4HjB0GH4.atlasv1.5P6qkY1f5wagqYpsernJnnqI0UWmUPEB46pfuew0yyhmUmj8oYf9SXXyizSI8kQLkUM",
        &["DszuEk4HjB0G", "DszuEk4HjB0GH4.atlasv2.5P6qkY1f5wagqYpsernJnnqI0UWmUPEB46pfuew0yyhmUmj8oYf9SXXyizSI8kQLkUM"],
    ),
    (
        "doppler-token",
        "dp.pt.9qgTBeyqsvftw2KONrtqR7Q9iGO6NMgpXXJSg5HPISi",
        &["Dp.pt.9qgTBeyqsvftw2KONrtqR7Q9iGO6NMgpXXJSg5HPISi", "dp.pt.9qgTBe"],
    ),
    (
        "databricks-token",
        "dapi3ef5404bf7bac806081598a878e2f264",
        &["Dapi3ef5404bf7bac806081598a878e2f264", "dapi3ef5404b"],
    ),
    (
        "digitalocean-token",
        "dop_v1_d9b1ecb19dd8b7c46b26a22eccdf03eeddf52ecf4076c19ace327203f26e16af",
        &["Dop_v1_d9b1ecb19dd8b7c46b26a22eccdf03eeddf52ecf4076c19ace327203f26e16af", "dop_v1_d9b1e"],
    ),
    (
        "postman-api-key",
        "PMAK-1d4d14aa605882ac89cd1997-cd896416bef4ba6e1a02da187e966ece66",
        &["pMAK-1d4d14aa605882ac89cd1997-cd896416bef4ba6e1a02da187e966ece66", "PMAK-1d4d14a"],
    ),
    (
        "shopify-token",
        "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",
        &["Shpat_15d3142f505f7965463e3621d78ed414", "shpat_15d314"],
    ),
    (
        "heroku-api-key",
        "HRKU-AA5KvbTeJdXfRJTo4fmJbSBPxJNtgpE4jFQ9b_i2-BP_ZcBPHyYTc4C0iOJc",
        &["hRKU-AA5KvbTeJdXfRJTo4fmJbSBPxJNtgpE4jFQ9b_i2-BP_ZcBPHyYTc4C0iOJc", "HRKU-AA5KvbT"],
    ),
    (
        "perplexity-api-key",
        "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",
        &["Pplx-3BLMSUFLlNB7orJp4kZT6lZ7oAcPT222Wb6Qfi8QarM4Nkgk", "pplx-3BLMSUF"],
    ),
    (
        "onepassword-service-account-token",
        "ops_eyJzaWduSW5BZGRyZXNzIjogIm15LjFwYXNzd29yZC5jb20iLCAidXNlckF1dGgiOiB7Im1ldGhvZCI6ICJTUlBnLTQwOTYiLCAiYWxnIjogIlBCRVMyZy1IUzI1NiIsICJpdGVyYXRpb25zIjogNjUwMDAwLCAic2FsdCI6ICJLa0xCZzB6Y0pYQ0RVRUotWUZmeFZLIn0sICJlbWFpbCI6ICJzdmNAMXBhc3N3b3Jkc2VydmljZWFjY291bnRzLmNvbSIsICJzcnBYIjogIjE4YjY5YzY0NzczMDMxZjY3MjU0ODBkYzM5MzI2NzcxNzJhMzE2NTlhMmU1MGFkZDEyNzQ1NGI0NjY3YTIwZjEiLCAibXVrIjogeyJhbGciOiAiQTI1NkdDTSIsICJleHQiOiB0cnVlLCAiayI6ICItZzg4UDZrcUJpSy0tSFhjNnhMdG5jRThXVFVQd1UtNm9vaG1wQlRoc2QwIiwgImtleV9vcHMiOiBbImVuY3J5cHQiLCAiZGVjcnlwdCJdLCAia3R5IjogIm9jdCIsICJraWQiOiAibXAifSwgInNlY3JldEtleSI6ICJBMy1UNUJINDAwVDNKVjhORldaM0NTVkZSTDIwOFBITkMiLCAidGhyb3R0bGVTZWNyZXQiOiB7InNlZWQiOiAiYzVjOGE0YjU3YmM5ZmE2NWMwMDUzN2U4YjNjNDhkMmFlODliOWMxZmZiMDEzY2U5NGUxYWY0MDg0NjFjNTg3OSIsICJkZXZpY2VVdWlkIjogIjhiMDkwZnk1eHJ1azVkOHdpbTdka3Q3a3RkIn0sICJkZXZpY2VVdWlkIjogInR5eGxydDRtdTJ6Z3F4enV5NHJobjI2MGt1In0=",
        &[
            "Ops_eyJzaWduSW5BZGRyZXNzIjogIm15LjFwYXNzd29yZC5jb20iLCAidXNlckF1dGgiOiB7Im1ldGhvZCI6ICJTUlBnLTQwOTYiLCAiYWxnIjogIlBCRVMyZy1IUzI1NiIsICJpdGVyYXRpb25zIjogNjUwMDAwLCAic2FsdCI6ICJLa0xCZzB6Y0pYQ0RVRUotWUZmeFZLIn0sICJlbWFpbCI6ICJzdmNAMXBhc3N3b3Jkc2VydmljZWFjY291bnRzLmNvbSIsICJzcnBYIjogIjE4YjY5YzY0NzczMDMxZjY3MjU0ODBkYzM5MzI2NzcxNzJhMzE2NTlhMmU1MGFkZDEyNzQ1NGI0NjY3YTIwZjEiLCAibXVrIjogeyJhbGciOiAiQTI1NkdDTSIsICJleHQiOiB0cnVlLCAiayI6ICItZzg4UDZrcUJpSy0tSFhjNnhMdG5jRThXVFVQd1UtNm9vaG1wQlRoc2QwIiwgImtleV9vcHMiOiBbImVuY3J5cHQiLCAiZGVjcnlwdCJdLCAia3R5IjogIm9jdCIsICJraWQiOiAibXAifSwgInNlY3JldEtleSI6ICJBMy1UNUJINDAwVDNKVjhORldaM0NTVkZSTDIwOFBITkMiLCAidGhyb3R0bGVTZWNyZXQiOiB7InNlZWQiOiAiYzVjOGE0YjU3YmM5ZmE2NWMwMDUzN2U4YjNjNDhkMmFlODliOWMxZmZiMDEzY2U5NGUxYWY0MDg0NjFjNTg3OSIsICJkZXZpY2VVdWlkIjogIjhiMDkwZnk1eHJ1azVkOHdpbTdka3Q3a3RkIn0sICJkZXZpY2VVdWlkIjogInR5eGxydDRtdTJ6Z3F4enV5NHJobjI2MGt1In0=",
            "ops_eyJzaWdu",
        ],
    ),
    (
        "pulumi-token",
        "pul-148fd28cbc938e019bb8723d39553ccaccfab54d",
        &["Pul-148fd28cbc938e019bb8723d39553ccaccfab54d", "pul-148fd28c"],
    ),
    (
        "planetscale-token",
        "pscale_tkn_aHRh8q80UtpRZGJSUFa4maGnZ8YRSdCkAk29FfR0wHv",
        &["Pscale_tkn_aHRh8q80UtpRZGJSUFa4maGnZ8YRSdCkAk29FfR0wHv", "pscale_tkn_a"],
    ),
    (
        "airtable-pat",
        "patHW3SbZcp22YqT7.f79aa766907508db2823ccd71ba82f4dee6a63c59620e66869002b6d08b5ab93",
        &["PatHW3SbZcp22YqT7.f79aa766907508db2823ccd71ba82f4dee6a63c59620e66869002b6d08b5ab93", "patHW3SbZcp2"],
    ),
    ("newrelic-key", "NRAK-CLW0B3GVGJX45FVU4IG7Q6YNWQB", &["nRAK-CLW0B3GVGJX45FVU4IG7Q6YNWQB", "NRAK-CLW0B3G"]),
    (
        "dynatrace-token",
        "dt0c01.MR71YK1IIAHN8YBAF3CN8EUV.935NAPNWYGGIM232ED4KZP44JH5YEPOAZOCPGMAC3DZPOC90QCJ3B4GGLJ7K6UG6",
        &[
            "Dt0c01.MR71YK1IIAHN8YBAF3CN8EUV.935NAPNWYGGIM232ED4KZP44JH5YEPOAZOCPGMAC3DZPOC90QCJ3B4GGLJ7K6UG6",
            "dt0c01.MR71Y",
        ],
    ),
    (
        "flyio-token",
        "fo1_m093A96bwo0Q3NwQFQsEBjCBUCBlZcdbI-gO0A95ERn",
        &["Fo1_m093A96bwo0Q3NwQFQsEBjCBUCBlZcdbI-gO0A95ERn", "fo1_m093A96b"],
    ),
    (
        "sourcegraph-token",
        "sgp_ed620104d159e8489b0ac35e5fa870d0a7ba07a2",
        &["Sgp_ed620104d159e8489b0ac35e5fa870d0a7ba07a2", "sgp_ed620104"],
    ),
    (
        "jfrog-api-key",
        "AKCpYA62qsKReLN4Y7zTADX3fgYFywQxwXinze5fDDImwu0jGRj7yBdSdhAiylImPFLGz15it",
        &["aKCpYA62qsKReLN4Y7zTADX3fgYFywQxwXinze5fDDImwu0jGRj7yBdSdhAiylImPFLGz15it", "AKCpYA62qsKR"],
    ),
    (
        "jfrog-reference-token",
        "cmVmdDfGdzfflb9f4c4iPJ44k4Y04N49Z7kVfWiuHwnSBv6GJPQiiBSku6txTLKr",
        &["CmVmdDfGdzfflb9f4c4iPJ44k4Y04N49Z7kVfWiuHwnSBv6GJPQiiBSku6txTLKr", "cmVmdDfGdzff"],
    ),
    ("square-token", "sq0atp-Q3nSDQigZ1O9BKdXN5IzC7", &["Sq0atp-Q3nSDQigZ1O9BKdXN5IzC7", "sq0atp-Q3nSD"]),
    (
        "clickhouse-cloud-secret",
        "4b1dOGf5abE34I0Hsx8xzMNYkB8NolGNNAXg7tFwoA",
        &["4B1dOGf5abE34I0Hsx8xzMNYkB8NolGNNAXg7tFwoA", "4b1dOGf5abE3"],
    ),
    (
        "mailgun-api-key",
        "key-9c0767cb7f8013cb790fef33ef2c3ff5",
        &["Key-9c0767cb7f8013cb790fef33ef2c3ff5", "key-9c0767cb"],
    ),
    (
        "mailchimp-api-key",
        "7de13628bef7a127f6c31d175a632f8e-us15",
        &["7De13628bef7a127f6c31d175a632f8e-us15", "7de13628bef7"],
    ),
    (
        "age-secret-key",
        "AGE-SECRET-KEY-1GYU5XD3HY877STQP7ZWLGHFC5ZHTWPA9UDZJUGVN5VYEP2QH7WY7HLDDV7",
        &["aGE-SECRET-KEY-1GYU5XD3HY877STQP7ZWLGHFC5ZHTWPA9UDZJUGVN5VYEP2QH7WY7HLDDV7", "AGE-SECRET-K"],
    ),
    (
        "notion-token",
        "secret_CJoTHEzmK2QBLQgj1aNnAFqr09cpGcTUZZjO8GFZ7Hz",
        &["secret_Q9w8X8bKum3AERA5bqSoQGuagEt9zlHzyjQ63Rwq6z"],
    ),
];
