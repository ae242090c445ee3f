-- Demo schema for the docker-compose stack; captured by connectors/inventory.toml.
CREATE SCHEMA inventory;

CREATE TABLE inventory.customers (
    id         serial PRIMARY KEY,
    first_name text NOT NULL,
    last_name  text NOT NULL,
    email      text NOT NULL UNIQUE
);

CREATE TABLE inventory.orders (
    id          serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES inventory.customers (id),
    quantity    integer NOT NULL,
    total       numeric(10, 2) NOT NULL,
    ordered_at  timestamptz NOT NULL DEFAULT now()
);

-- Full before-images on update and delete.
ALTER TABLE inventory.customers REPLICA IDENTITY FULL;

INSERT INTO inventory.customers (first_name, last_name, email) VALUES
    ('Sally', 'Thomas', 'sally.thomas@example.com'),
    ('George', 'Bailey', 'gbailey@example.com');

INSERT INTO inventory.orders (customer_id, quantity, total) VALUES
    (1, 2, 19.98),
    (2, 1, 5.00);
