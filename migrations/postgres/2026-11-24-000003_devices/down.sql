DROP TABLE qr_codes;
DROP TABLE qr_settings;
DROP TABLE devices;
