INSERT INTO author (name) VALUES ('Ursula K. Le Guin'), ('Terry Pratchett');
INSERT INTO book (author_id, title, price_cents, stock) VALUES
  (1, 'A Wizard of Earthsea', 1299, 3),
  (1, 'The Dispossessed', 1499, 1),
  (2, 'Guards! Guards!', 999, 5);
