using System.Collections.Concurrent;
using System.Text;
using GovShare.Node.Exchange.Datasets;

namespace GovShare.Node.Exchange.Pull;

/// <summary>
/// The encoded answers of pulls of small versions, kept in memory so that a one-row pull does not
/// open the stored file, check its framing and hash, mask and encode again each time (issue 20:
/// that was most of a small exchange's own work). Only what cannot change for the same key is kept:
/// the key is the version (resource, number and the push's exchange id, so a version number used
/// again after a restore is another key), the representation, and every delivered item with its
/// output name and masking rule — what the caller's grant allows, decided anew on every pull
/// before the cache is asked. So a new version, another projection, another masking or a changed
/// grant is another key (or a refusal before the cache is reached); pseudonymised answers, which
/// depend on the caller, are never kept. An answer enters only after it was read whole from a
/// segment whose hash matched and was encoded without error.
/// </summary>
/// <remarks>
/// Bounded: versions of at most <see cref="MaxVersionBytes"/> stored bytes, answers of at most that
/// many bytes, and <see cref="ExchangeOptions.AnswerCacheBytes"/> in all — when an answer would go
/// beyond it, everything kept is dropped (answers are cheap to make again; a full cache means many
/// small resources, and starting over keeps the code and the bound simple). A resource keeps the
/// answers of one version: those of another are dropped when it is answered.
/// </remarks>
public sealed class PullAnswerCache(long capacityBytes)
{
    /// <summary>The largest stored version, and the largest answer, that is kept.</summary>
    public const int MaxVersionBytes = 64 * 1024;

    private readonly ConcurrentDictionary<string, ResourceAnswers> _resources = new(StringComparer.Ordinal);
    private readonly Lock _budget = new();
    private long _bytes;

    /// <summary>Bytes held now (tests, diagnostics).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Whether a pull of <paramref name="version"/> may be answered from, or enter, the cache.</summary>
    public bool Admits(DatasetVersion version, IReadOnlyList<AllowedItem> delivered) =>
        capacityBytes > 0 && version.Bytes <= MaxVersionBytes && delivered.All(i => i.Masking.Kind != Desensitisation.MaskingKind.Pseudonym);

    /// <summary>The key of one answer of a version: representation, whether items were named, and every item with its name and masking.</summary>
    public static string Key(string representation, bool itemsNamed, IReadOnlyList<AllowedItem> items)
    {
        var key = new StringBuilder(representation).Append('\u001e').Append(itemsNamed ? '1' : '0');
        foreach (var item in items)
        {
            key.Append('\u001e').Append(item.Item.Id).Append('\u001f').Append(item.Item.Name).Append('\u001f').Append(ItemProjection.MaskingName(item.Masking));
        }

        return key.ToString();
    }

    public CachedAnswer? Find(DatasetVersion version, string key) =>
        _resources.TryGetValue(version.ResourceCode, out var answers) && answers.Is(version) && answers.Answers.TryGetValue(key, out var answer)
            ? answer
            : null;

    public void Add(DatasetVersion version, string key, CachedAnswer answer)
    {
        if (capacityBytes <= 0 || answer.Body.Length > MaxVersionBytes)
        {
            return;
        }

        var answers = _resources.AddOrUpdate(
            version.ResourceCode,
            _ => new ResourceAnswers(version),
            (_, held) =>
            {
                if (held.Is(version))
                {
                    return held;
                }

                Release(held);
                return new ResourceAnswers(version);
            });
        if (!answers.Is(version))
        {
            return;
        }

        lock (_budget)
        {
            if (_bytes + answer.Body.Length > capacityBytes)
            {
                foreach (var held in _resources.Values)
                {
                    held.Answers.Clear();
                }

                _bytes = 0;
            }

            // Another version may have taken the resource's place meanwhile: its answers are not these.
            if (_resources.TryGetValue(version.ResourceCode, out var current) && ReferenceEquals(current, answers) && answers.Answers.TryAdd(key, answer))
            {
                _bytes += answer.Body.Length;
            }
        }
    }

    private void Release(ResourceAnswers held)
    {
        lock (_budget)
        {
            foreach (var answer in held.Answers.Values)
            {
                _bytes -= answer.Body.Length;
            }

            held.Answers.Clear();
            _bytes = Math.Max(0, _bytes);
        }
    }

    private sealed class ResourceAnswers(DatasetVersion version)
    {
        public DatasetVersion Version { get; } = version;

        public ConcurrentDictionary<string, CachedAnswer> Answers { get; } = new(StringComparer.Ordinal);

        public bool Is(DatasetVersion other) => Version.Version == other.Version && string.Equals(Version.ExchangeId, other.ExchangeId, StringComparison.Ordinal);
    }
}

/// <summary>
/// One encoded answer: <see cref="Body"/> is every byte a pull writes, and the first
/// <see cref="BeforeEnd"/> of them are what precedes the stream's end (Arrow's end-of-stream marker,
/// JSON's closing bracket), which is written only once the exchange record is durable.
/// </summary>
public sealed record CachedAnswer(byte[] Body, int BeforeEnd, long Rows, IReadOnlyList<string> ItemIds);
