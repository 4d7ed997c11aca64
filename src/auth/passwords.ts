import bcrypt from 'bcryptjs';

/** bcrypt through a port, so that tests can use cheap rounds. */
export class PasswordHasher {
  /** A hash of nothing anyone knows, compared against when the user does not exist (equal timing). */
  private readonly decoy: Promise<string>;

  constructor(private readonly rounds: number) {
    this.decoy = bcrypt.hash('decoy-password-that-never-matches', rounds);
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.rounds);
  }

  async verify(password: string, hash: string | undefined): Promise<boolean> {
    if (!hash) {
      await bcrypt.compare(password, await this.decoy);
      return false;
    }
    return bcrypt.compare(password, hash);
  }
}
