/**
 * A claimed output arrives as text, but the model generated tokens, and a
 * text has many tokenizations. The tokenizer's own (canonical) one is often
 * not what a model generates: on the tiny model a 40-token output
 * re-tokenizes to ~115 tokens, because SentencePiece cannot reach a word
 * piece like "▁water" through its merges while the model emits it whole.
 * An audit therefore scores the model's own choices where the text allows
 * them, and starts from a guess that follows the model more often than the
 * tokenizer does: the longest vocabulary piece at each point.
 */
import type { LlamaModel, Token } from 'node-llama-cpp';

export class TokenPieces {
  private readonly byText = new Map<string, Token>();
  private longest = 1;

  private constructor(private readonly model: LlamaModel) {}

  private static readonly cache = new WeakMap<LlamaModel, TokenPieces>();

  /** Built once per loaded model (one detokenize per vocabulary entry). */
  static of(model: LlamaModel): TokenPieces {
    let pieces = TokenPieces.cache.get(model);
    if (!pieces) {
      pieces = new TokenPieces(model);
      pieces.build();
      TokenPieces.cache.set(model, pieces);
    }
    return pieces;
  }

  private build(): void {
    const model = this.model;
    const size = vocabularySize(model);
    // Detokenized after an ordinary token, a piece keeps the leading space a first token would lose.
    const before = model.tokenize('a', false).slice(-1);
    for (let t = 0; t < size; t++) {
      const token = t as Token;
      if (model.isSpecialToken(token) || model.isEogToken(token)) continue;
      const piece = model.detokenize([token], false, before);
      // Byte tokens of multi-byte characters decode to U+FFFD alone; the tokenizer covers those.
      if (!piece || piece.includes('\uFFFD')) continue;
      const existing = this.byText.get(piece);
      // Of two tokens with the same text (a piece and its byte token), the piece is what models emit.
      if (existing === undefined || model.getTokenAttributes(existing).byte) this.byText.set(piece, token);
      this.longest = Math.max(this.longest, piece.length);
    }
  }

  /** Longest-match tokens for `text`; characters no piece covers go through the tokenizer (byte fallback). */
  guess(text: string): Token[] {
    const out: Token[] = [];
    let i = 0;
    while (i < text.length) {
      let matched = 0;
      for (let n = Math.min(this.longest, text.length - i); n > 0; n--) {
        const token = this.byText.get(text.slice(i, i + n));
        if (token !== undefined) {
          out.push(token);
          matched = n;
          break;
        }
      }
      if (matched > 0) {
        i += matched;
        continue;
      }
      const char = String.fromCodePoint(text.codePointAt(i)!);
      out.push(...this.model.tokenize(char, true, 'trimLeadingSpace'));
      i += char.length;
    }
    return out;
  }
}

function vocabularySize(model: LlamaModel): number {
  const tokens: unknown = model.fileInfo.metadata.tokenizer?.ggml?.tokens;
  if (!Array.isArray(tokens) || tokens.length === 0) throw new Error('the model file lists no vocabulary (tokenizer.ggml.tokens)');
  return tokens.length;
}
