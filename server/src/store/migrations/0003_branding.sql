-- Branding profiles: per merchant, named looks for the capture page, chosen by a session's
-- `branding`. Colours are validated #rrggbb (WCAG AA against the page) before they get here.
CREATE TABLE branding_profiles (
    merchant_id   TEXT NOT NULL REFERENCES merchants(id),
    name          TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    primary_color TEXT NOT NULL,
    accent_color  TEXT,
    -- Sniffed type (image/png|jpeg|webp) and base64 bytes (<= 256 KiB) of the logo, if any.
    logo_type     TEXT,
    logo_base64   TEXT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, name)
);
