-- The backend's SQL database as the last release without migrations (commit ff04631) made it,
-- with a few rows in every table: the fixture of tests/integration/test_migrations.py.
--
-- Made by running that commit's own code, not this one's: a git worktree of ff04631, its
-- backend/db.py make_engine (metadata.create_all, then _add_new_columns) on a new SQLite file,
-- TokenStore.add and .revoke for two tokens, SQLAlchemy inserts into the tables of its
-- backend.db, backend.alerts.tables and backend.auth.tokens (the operator token below is the
-- digest of the secret the test signs in with), then `sqlite3 <file> .dump` into this file.
-- The registry rows (villages to team_members) are replaced at every start; the others are
-- the backend's own and must survive every migration.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE villages (
	id VARCHAR(32) NOT NULL, 
	name VARCHAR(60) NOT NULL, 
	head_name VARCHAR(60) NOT NULL, 
	head_phone VARCHAR(16) NOT NULL, 
	households INTEGER NOT NULL, 
	main_road_households INTEGER NOT NULL, 
	main_road_standard_bins INTEGER NOT NULL, 
	lighting JSON, 
	PRIMARY KEY (id)
);
INSERT INTO villages VALUES('dong-ha','Đông Hạ','Nguyễn Văn An','+84912000001',120,80,6,'[{"from": "18:00", "to": "23:00"}]');
CREATE TABLE teams (
	id VARCHAR(32) NOT NULL, 
	name VARCHAR(60) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	villages JSON NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO teams VALUES('ve-sinh-1','Tổ vệ sinh 1','collection','["dong-ha"]');
CREATE TABLE device_state (
	device_id VARCHAR(48) NOT NULL, 
	ts INTEGER, 
	boot INTEGER, 
	seq INTEGER, 
	synced BOOLEAN, 
	"values" JSON, 
	last_seen FLOAT, 
	online BOOLEAN, 
	status_at FLOAT, 
	fw VARCHAR(32), 
	PRIMARY KEY (device_id)
);
INSERT INTO device_state VALUES('lamp-dong-ha-001',1764950400,3,812,1,'{"on": true, "current_ma": 180}',1764950401.5,1,1764940000.0,'1.4.2');
CREATE TABLE dead_letters (
	id VARCHAR(64) NOT NULL, 
	received_at FLOAT NOT NULL, 
	gateway VARCHAR(32) NOT NULL, 
	topic TEXT NOT NULL, 
	device_id VARCHAR(64), 
	reason VARCHAR(32) NOT NULL, 
	detail TEXT NOT NULL, 
	payload TEXT NOT NULL, 
	payload_bytes INTEGER NOT NULL, 
	messages INTEGER DEFAULT '1' NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO dead_letters VALUES('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',1764950000.25,'gw-1','sangsach/v1/lamp/lamp-x/reading','lamp-x','unknown_device','not in the registry','{"seq": 1}',10,1);
INSERT INTO dead_letters VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',1764950060.0,'gw-1','sangsach/v1/bin/bin-y/reading',NULL,'flood','more than 60 a minute','',0,240);
CREATE TABLE sms_outbox (
	id VARCHAR(160) NOT NULL, 
	"to" VARCHAR(16) NOT NULL, 
	body TEXT NOT NULL, 
	encoding VARCHAR(8) NOT NULL, 
	kind VARCHAR(24) NOT NULL, 
	alert_id VARCHAR(32), 
	status VARCHAR(8) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at FLOAT NOT NULL, 
	created_at FLOAT NOT NULL, 
	sent_at FLOAT, 
	last_error TEXT, 
	provider_ref VARCHAR(128), 
	PRIMARY KEY (id)
);
INSERT INTO sms_outbox VALUES('alert:1:open:+84912000002','+84912000002','Đèn lamp-dong-ha-001 hỏng (mã 1)','ucs2','alert','1','sent',1,1764948011.0,1764948011.0,1764948012.4999999999,NULL,'dev-1');
INSERT INTO sms_outbox VALUES('alert:1:remind:+84912000001','+84912000001','Nhac lai: den hong (ma 1)','gsm7','reminder','1','failed',5,1764960000.0,1764951600.0,NULL,'carrier said 503',NULL);
CREATE TABLE sms_inbound (
	id INTEGER NOT NULL, 
	received_at FLOAT NOT NULL, 
	sender VARCHAR(32) NOT NULL, 
	role VARCHAR(8), 
	text TEXT NOT NULL, 
	action VARCHAR(8), 
	code VARCHAR(8), 
	result VARCHAR(16) NOT NULL, 
	detail TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO sms_inbound VALUES(1,1764949000.0,'+84912000002','team','OK 1','ack','1','done','alert 1 acknowledged');
CREATE TABLE census_entries (
	id INTEGER NOT NULL, 
	village_id VARCHAR(32) NOT NULL, 
	households INTEGER NOT NULL, 
	main_road_households INTEGER NOT NULL, 
	main_road_standard_bins INTEGER NOT NULL, 
	entered_at FLOAT NOT NULL, 
	entered_by VARCHAR(64) NOT NULL, 
	source VARCHAR(8) NOT NULL, 
	effective_from INTEGER, 
	PRIMARY KEY (id)
);
INSERT INTO census_entries VALUES(1,'dong-ha',124,82,7,1764900000.0,'van-phong-xa','api',NULL);
INSERT INTO census_entries VALUES(2,'dong-ha',126,83,7,1764910000.0,'van-phong-xa','csv',1764867600);
CREATE TABLE gateway_states (
	gateway_id VARCHAR(32) NOT NULL, 
	spool_full TEXT NOT NULL, 
	spooled INTEGER NOT NULL, 
	full_since FLOAT, 
	reported_at FLOAT NOT NULL, 
	intake_stalled TEXT DEFAULT '' NOT NULL, 
	PRIMARY KEY (gateway_id)
);
INSERT INTO gateway_states VALUES('gw-1','',12,NULL,1764950400.0,'');
CREATE TABLE late_days (
	day INTEGER NOT NULL, 
	marked_at FLOAT NOT NULL, 
	PRIMARY KEY (day)
);
INSERT INTO late_days VALUES(1764781200,1764950000.0);
CREATE TABLE alerts (
	id INTEGER NOT NULL, 
	device_id VARCHAR(48) NOT NULL, 
	type VARCHAR(24) NOT NULL, 
	village_id VARCHAR(32) NOT NULL, 
	state VARCHAR(24) NOT NULL, 
	level INTEGER NOT NULL, 
	opened_at FLOAT NOT NULL, 
	raised_at FLOAT NOT NULL, 
	acked_at FLOAT, 
	acked_by VARCHAR(64), 
	done_at FLOAT, 
	done_by VARCHAR(64), 
	cleared_at FLOAT, 
	collected_at FLOAT, 
	notified_at FLOAT, 
	notified_level INTEGER, 
	next_notice_at FLOAT, 
	reminders INTEGER NOT NULL, 
	assigned_to VARCHAR(64), 
	note TEXT, 
	PRIMARY KEY (id)
);
INSERT INTO alerts VALUES(1,'lamp-dong-ha-001','lamp_fault','dong-ha','active_acknowledged',1,1764948000.0,1764948010.0,1764949000.0,'+84912000002',NULL,NULL,NULL,NULL,1764948011.0,1,1764951600.0,2,'ve-sinh-1','Bóng cháy, đã báo thợ');
INSERT INTO alerts VALUES(2,'lamp-dong-ha-001','device_offline','dong-ha','cleared',0,1764800000.0,1764800005.0,NULL,NULL,NULL,NULL,1764803600.0,NULL,NULL,NULL,NULL,0,NULL,NULL);
CREATE TABLE alert_tracks (
	device_id VARCHAR(48) NOT NULL, 
	track JSON NOT NULL, 
	PRIMARY KEY (device_id)
);
INSERT INTO alert_tracks VALUES('lamp-dong-ha-001','{"lamp_fault": {"since": 1764948000.0, "count": 3}}');
CREATE TABLE api_tokens (
	id INTEGER NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	created_at FLOAT NOT NULL, 
	revoked_at FLOAT, 
	PRIMARY KEY (id), 
	UNIQUE (token_hash)
);
INSERT INTO api_tokens VALUES(1,'truong-thon','viewer','47d8c2aec9c01967fb0e135c5056247e40b566a296f4b5700ae367c481781aa8',1764899000.0,NULL);
INSERT INTO api_tokens VALUES(2,'van-phong-xa','operator','2cedbb2f0b72f878c510cfa4a13125dab55ba8efb22509162308b62655ecb268',1764900000.0,NULL);
INSERT INTO api_tokens VALUES(3,'gw-1','gateway','775ee7caa6fc2a94dcba33ecdf65a36fa403a05bffcc633e0051d0626459d94e',1764900100.0,1764903600.0);
CREATE TABLE places (
	id VARCHAR(32) NOT NULL, 
	village_id VARCHAR(32) NOT NULL, 
	kind VARCHAR(8) NOT NULL, 
	name VARCHAR(60) NOT NULL, 
	lat FLOAT, 
	lon FLOAT, 
	households_served INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(village_id) REFERENCES villages (id)
);
INSERT INTO places VALUES('dong-ha-lane-1','dong-ha','lane','Ngõ 1',20.829999999999998295,106.26999999999999601,NULL);
CREATE TABLE team_members (
	team_id VARCHAR(32) NOT NULL, 
	phone VARCHAR(16) NOT NULL, 
	name VARCHAR(60) NOT NULL, 
	PRIMARY KEY (team_id, phone), 
	FOREIGN KEY(team_id) REFERENCES teams (id)
);
INSERT INTO team_members VALUES('ve-sinh-1','+84912000002','Trần Thị Bình');
CREATE TABLE devices (
	id VARCHAR(48) NOT NULL, 
	kind VARCHAR(8) NOT NULL, 
	village_id VARCHAR(32) NOT NULL, 
	place_id VARCHAR(32) NOT NULL, 
	lat FLOAT NOT NULL, 
	lon FLOAT NOT NULL, 
	depth_cm FLOAT, 
	watts INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(village_id) REFERENCES villages (id), 
	FOREIGN KEY(place_id) REFERENCES places (id)
);
INSERT INTO devices VALUES('lamp-dong-ha-001','lamp','dong-ha','dong-ha-lane-1',20.830999999999999516,106.27100000000000079,NULL,40);
CREATE INDEX ix_dead_letters_device_id ON dead_letters (device_id);
CREATE INDEX ix_dead_letters_reason ON dead_letters (reason);
CREATE INDEX ix_dead_letters_received_at ON dead_letters (received_at);
CREATE INDEX ix_sms_outbox_status ON sms_outbox (status);
CREATE INDEX ix_sms_outbox_next_attempt_at ON sms_outbox (next_attempt_at);
CREATE INDEX ix_sms_outbox_created_at ON sms_outbox (created_at);
CREATE INDEX ix_sms_outbox_to ON sms_outbox ("to");
CREATE INDEX ix_sms_outbox_alert_id ON sms_outbox (alert_id);
CREATE INDEX ix_sms_inbound_received_at ON sms_inbound (received_at);
CREATE INDEX ix_sms_inbound_sender ON sms_inbound (sender);
CREATE INDEX ix_census_entries_village_id ON census_entries (village_id);
CREATE INDEX ix_alerts_device_id ON alerts (device_id);
CREATE INDEX ix_alerts_state ON alerts (state);
CREATE UNIQUE INDEX one_active_alert ON alerts (device_id, type) WHERE state != 'cleared';
CREATE INDEX ix_alerts_village_id ON alerts (village_id);
CREATE INDEX ix_alerts_next_notice_at ON alerts (next_notice_at);
CREATE INDEX ix_api_tokens_name ON api_tokens (name);
CREATE INDEX ix_places_village_id ON places (village_id);
CREATE INDEX ix_devices_village_id ON devices (village_id);
COMMIT;
