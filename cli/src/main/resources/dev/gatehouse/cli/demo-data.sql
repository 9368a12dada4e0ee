-- Run as gatehouse_demo (the gateway's own, unprivileged role) in database shop: it owns these tables.
CREATE TABLE customers (
  id          serial PRIMARY KEY,
  name        text NOT NULL,
  email       text NOT NULL UNIQUE,
  card_number text NOT NULL,
  phone       text NOT NULL,
  country     text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
  id          serial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id),
  amount      numeric(10,2) NOT NULL,
  status      text NOT NULL DEFAULT 'paid',
  placed_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers (name, email, card_number, phone, country) VALUES
  ('Ada Lovelace',      'ada@example.com',      '4111 1111 1111 1111', '+44 20 7946 0018', 'GB'),
  ('Grace Hopper',      'grace@example.com',    '5555-5555-5555-4444', '+1 202 555 0143',  'US'),
  ('Alan Turing',       'alan@example.com',     '378282246310005',     '+44 161 496 0722', 'GB'),
  ('Katherine Johnson', 'katherine@example.com','6011111111111117',    '+1 757 555 0199',  'US'),
  ('Edsger Dijkstra',   'edsger@example.nl',    '4012888888881881',    '+31 20 555 0134',  'NL'),
  ('Barbara Liskov',    'barbara@example.com',  '5105105105105100',    '+1 617 555 0112',  'US'),
  ('Tim Berners-Lee',   'tim@example.org',      '4222222222222',       '+44 1865 555 019', 'GB'),
  ('Margaret Hamilton', 'margaret@example.com', '4000056655665556',    '+1 617 555 0188',  'US'),
  ('Linus Torvalds',    'linus@example.fi',     '5200828282828210',    '+358 9 5550 1234', 'FI'),
  ('Radia Perlman',     'radia@example.com',    '371449635398431',     '+1 408 555 0177',  'US');
INSERT INTO orders (customer_id, amount, status)
  SELECT 1 + (g % 10), round((10 + (g * 37 % 500))::numeric, 2), CASE WHEN g % 7 = 0 THEN 'refunded' ELSE 'paid' END
  FROM generate_series(1, 60) AS g;
