-- Listings of recent activity: a brand's messages newest first or since a time (the crisis
-- radar, pages of the review queue), and the newest audit entries of some brands.

CREATE INDEX messages_brand_received ON messages (brand, received_at, id);
CREATE INDEX audit_log_brand ON audit_log (brand, seq);
