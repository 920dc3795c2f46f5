/**
 * The API server's verdict on a ServiceAccount token: a TokenReview (authentication.k8s.io/v1) naming
 * the audiences the key service accepts, so a token minted for the API server (or anyone else) is
 * refused. The token goes in the request body only; nothing of it is logged or kept.
 */
import type { KubeClient } from '../runtime/kube/client.ts';
import type { KubeObject } from '../runtime/kube/types.ts';
import type { Review, TokenReviewer } from './auth.ts';

/** The audience tokens for the key service carry unless configured otherwise. */
export const DEFAULT_AUDIENCE = 'palisade-keyservice';

interface TokenReview extends KubeObject {
  spec: { token: string; audiences: string[] };
  status?: {
    authenticated?: boolean;
    user?: { username?: string };
    audiences?: string[];
    error?: string;
  };
}

export function apiTokenReviewer(
  client: Pick<KubeClient, 'create'>,
  audiences: readonly string[],
): TokenReviewer {
  return {
    async review(token: string): Promise<Review> {
      const r = await client.create<TokenReview>({
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        metadata: { name: '' },
        spec: { token, audiences: [...audiences] },
      });
      const st = r.status ?? {};
      if (!st.authenticated) return { authenticated: false, reason: st.error || 'not authenticated' };
      // NB: an API server that ignores audiences answers with none; such a token is not ours.
      if (!(st.audiences ?? []).some((a) => audiences.includes(a)))
        return { authenticated: false, reason: `the token's audience is not ${audiences.join(' or ')}` };
      return { authenticated: true, username: st.user?.username ?? '' };
    },
  };
}
