import { describe, expect, it } from 'vitest';
import { addBook, listBooks, OutOfStockError, sell } from '../src/books.js';
import { pool } from '../src/db.js';

// Each test starts from the seeded template: the database is reset before each test by pgclone/vitest/setup.

describe('books', () => {
  it('lists the seeded books', async () => {
    const books = await listBooks();
    expect(books.map((b) => b.title)).toEqual(['A Wizard of Earthsea', 'The Dispossessed', 'Guards! Guards!']);
  });

  it('adds a book by a new author', async () => {
    const id = await addBook({ title: 'Kindred', author: 'Octavia E. Butler', priceCents: 1199, stock: 2 });
    expect(id).toBe(4); // the sequence was reset too
    expect((await listBooks()).length).toBe(4);
  });

  it('adds a book by a known author', async () => {
    await addBook({ title: 'Mort', author: 'Terry Pratchett', priceCents: 899 });
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM author');
    expect(rows[0].n).toBe(2);
  });

  it('sells copies until the stock runs out', async () => {
    await sell(2, 1);
    await expect(sell(2, 1)).rejects.toBeInstanceOf(OutOfStockError);
    expect((await listBooks()).find((b) => b.id === 2)?.stock).toBe(0);
  });

  it('still has the seeded stock (no leak from the previous test)', async () => {
    expect((await listBooks()).map((b) => b.stock)).toEqual([3, 1, 5]);
  });

  it('runs against its own worker database', () => {
    expect(process.env.DATABASE_URL).toMatch(/_test_[a-z0-9]{8}_\d+$/);
  });
});
