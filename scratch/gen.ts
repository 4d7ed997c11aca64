import { MikroORM } from '@mikro-orm/core';
import { ormOptions } from '../src/db/orm';
import { loadConfig } from '../src/config/config';
async function main() {
  for (const env of [{ SQLITE_PATH: '/tmp/gen.db' }, { DB_DRIVER: 'postgres', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' }]) {
    const orm = await MikroORM.init(ormOptions(loadConfig(env)) as any);
    console.log('-----', env);
    console.log(await orm.getSchemaGenerator().getCreateSchemaSQL({ wrap: false }));
    await orm.close();
  }
}
main();
