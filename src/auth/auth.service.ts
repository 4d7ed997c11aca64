import { AppError, forbidden } from '../shared/errors';
import type { User } from '../users/user.entity';
import type { UsersService } from '../users/users.service';
import type { UserView } from '../users/user.view';
import type { CredentialsRepository } from './credentials.repository';
import type { JwtService } from './jwt';
import type { LoginLimiter } from './login-limiter';
import type { PasswordHasher } from './passwords';

export interface Session {
  token: string;
  user: UserView;
}

const BAD_LOGIN = 'Wrong username or password';

/** Human login and registration. */
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly credentials: Pick<CredentialsRepository, 'passwordHashOf'>,
    private readonly passwords: PasswordHasher,
    private readonly jwt: JwtService,
    private readonly limiter: LoginLimiter,
    private readonly allowRegistration: boolean,
  ) {}

  /** Same message and similar timing for an unknown user and a wrong password. */
  async login(username: string, password: string, address: string): Promise<Session> {
    const wait = this.limiter.retryAfterMs(username, address);
    if (wait > 0) {
      throw new AppError('RATE_LIMITED', 'Too many failed logins; try again later', {
        headers: { 'Retry-After': String(Math.ceil(wait / 1000)) },
      });
    }
    const user = await this.users.findByUsername(username);
    const human = user && (user.role === 'ADMIN' || user.role === 'MEMBER') ? user : null;
    const ok = await this.passwords.verify(password, human ? await this.credentials.passwordHashOf(human.id) : undefined);
    if (!ok || !human) {
      this.limiter.recordFailure(username, address);
      throw new AppError('INVALID_CREDENTIALS', BAD_LOGIN);
    }
    return this.session(human);
  }

  async register(username: string, password: string): Promise<Session> {
    if (!this.allowRegistration) throw forbidden('Registration is turned off on this server');
    const user = await this.users.createHuman({ username, password, role: 'MEMBER' });
    return this.session(user);
  }

  private async session(user: User): Promise<Session> {
    return { token: this.jwt.sign(user), user: await this.users.view(user) };
  }
}
