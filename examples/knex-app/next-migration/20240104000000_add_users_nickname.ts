import type { Knex } from 'knex';

// The migration the README adds: a new column, filled from existing rows.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.string('nickname');
  });
  await knex('users').update({ nickname: knex.raw("split_part(email, '@', 1)") });
  console.log('Filled users.nickname from email addresses');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('nickname');
  });
}
