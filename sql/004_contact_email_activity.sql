-- What the vendor last reported about email to a contact (delivered, bounced, replied …), so
-- agents reading contacts see the activity without asking the vendor.
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS last_email_status TEXT;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS last_email_at TIMESTAMPTZ;
