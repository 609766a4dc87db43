using Apache.Arrow;
using GovShare.Node.Desensitisation;

namespace GovShare.Node.Exchange.Pull;

/// <summary>One information item of a pull: which stored column it comes from, what it is called on the wire, how it is masked.</summary>
/// <param name="SourceColumn">The column name in the stored dataset.</param>
/// <param name="OutputName">The item's name (or id) in the pulled stream.</param>
/// <param name="Rule">The masking applied to it.</param>
public sealed record ProjectedItem(string SourceColumn, string OutputName, MaskingRule Rule);

/// <summary>
/// The per-item authorisation and desensitisation of a pull as one column transform: keeps only
/// the projected items, in the order given, renamed and masked. Built once per pull (the output
/// schema is known before the first batch, so the schema can be written first), then applied to
/// each validated batch.
/// </summary>
/// <remarks>
/// An unmasked item's array is passed through without copying, so the output batch borrows the
/// input batch's buffers: write (or copy) the output before disposing the input. Each output
/// field carries metadata <c>govshare:masking</c> naming its rule. Not thread-safe: one per pull,
/// disposed when the pull ends.
/// </remarks>
public sealed class ItemProjection : IDisposable
{
    /// <summary>Metadata key on each output field naming its masking rule.</summary>
    public const string MaskingMetadataKey = "govshare:masking";

    private readonly int[] _sourceIndexes;
    private readonly ColumnMasker[] _maskers;
    private readonly MaskingBuffers _buffers = new();

    // The arrays each projected batch's masked columns were written into, until it is recycled;
    // a batch never recycled (and its entry) is left to the collector.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<RecordBatch, byte[][]> _lent = new();

    private ItemProjection(Schema source, Schema output, int[] sourceIndexes, ColumnMasker[] maskers)
    {
        SourceSchema = source;
        OutputSchema = output;
        _sourceIndexes = sourceIndexes;
        _maskers = maskers;
    }

    /// <summary>The schema batches are expected to have.</summary>
    public Schema SourceSchema { get; }

    /// <summary>The schema of every output batch.</summary>
    public Schema OutputSchema { get; }

    /// <summary>
    /// Builds the projection of <paramref name="items"/> over <paramref name="source"/>.
    /// <paramref name="key"/> is the user department's pseudonym key, needed when an item is
    /// pseudonymised.
    /// </summary>
    /// <exception cref="ItemProjectionException">One or more items are invalid; all problems are listed.</exception>
    public static ItemProjection Create(Schema source, IReadOnlyList<ProjectedItem> items, PseudonymKey? key = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(items);
        var errors = new List<string>();
        if (items.Count == 0)
        {
            errors.Add("No items are projected.");
        }

        var indexes = new int[items.Count];
        var maskers = new ColumnMasker[items.Count];
        var fields = new List<Field>(items.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (string.IsNullOrWhiteSpace(item.OutputName))
            {
                errors.Add($"Item {i} has no output name.");
            }
            else if (!names.Add(item.OutputName))
            {
                errors.Add($"Item '{item.OutputName}' is projected twice.");
            }

            indexes[i] = source.GetFieldIndex(item.SourceColumn, StringComparer.Ordinal);
            if (indexes[i] < 0)
            {
                errors.Add($"Item '{item.OutputName}': the dataset has no column '{item.SourceColumn}'.");
                continue;
            }

            var sourceField = source.FieldsList[indexes[i]];
            var masker = ColumnMasker.TryCreate(item.Rule, sourceField.DataType, key, out var problems);
            if (masker is null)
            {
                errors.AddRange(problems.Select(p => $"Item '{item.OutputName}': {p}"));
                continue;
            }

            maskers[i] = masker;
            var nullable = sourceField.IsNullable || item.Rule.Kind != MaskingKind.None;
            fields.Add(new Field(item.OutputName, masker.OutputType, nullable, [new(MaskingMetadataKey, MaskingName(item.Rule))]));
        }

        if (errors.Count > 0)
        {
            foreach (var masker in maskers)
            {
                masker?.Dispose();
            }

            throw new ItemProjectionException(errors);
        }

        return new ItemProjection(source, new Schema(fields, null), indexes, maskers);
    }

    /// <summary>Projects and masks one validated batch of <see cref="SourceSchema"/>.</summary>
    public RecordBatch Project(RecordBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.ColumnCount != SourceSchema.FieldsList.Count)
        {
            throw new ArgumentException($"The batch has {batch.ColumnCount} columns; the projection was built for {SourceSchema.FieldsList.Count}.", nameof(batch));
        }

        var columns = new IArrowArray[_maskers.Length];
        for (var i = 0; i < _maskers.Length; i++)
        {
            columns[i] = _maskers[i].Mask(batch.Column(_sourceIndexes[i]), _buffers);
        }

        var output = new RecordBatch(OutputSchema, columns, batch.Length);
        if (_buffers.TakenForBatch() is { Length: > 0 } taken)
        {
            _lent.AddOrUpdate(output, taken);
        }

        return output;
    }

    /// <summary>
    /// Hands the masked columns' memory of <paramref name="output"/> (a batch this projection
    /// made) back for a later batch of the same projection. Only for a caller that has written
    /// the batch and never reads it, nor an array of it, again (a pull, once a batch is written):
    /// the arrays are overwritten by the next batch. Thread-safe against <see cref="Project"/>
    /// (a pull masks on one thread and writes on another); a batch not recycled costs nothing
    /// but fresh arrays for later batches.
    /// </summary>
    public void Recycle(RecordBatch output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_lent.TryGetValue(output, out var arrays) && _lent.Remove(output))
        {
            _buffers.Return(arrays);
        }
    }

    /// <summary>Releases the maskers (a pseudonym masker holds an HMAC context).</summary>
    public void Dispose()
    {
        foreach (var masker in _maskers)
        {
            masker.Dispose();
        }
    }

    internal static string MaskingName(MaskingRule rule) => rule.Kind switch
    {
        MaskingKind.KeepEnds => FormattableString.Invariant($"KeepEnds({rule.Keep},{rule.KeepEnd})"),
        MaskingKind.GeneraliseDate => $"GeneraliseDate({rule.Precision})",
        MaskingKind.Bucket => $"Bucket({string.Join(',', rule.Boundaries!.Select(b => b.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))})",
        _ => rule.Kind.ToString(),
    };
}

/// <summary>A projection could not be built; <see cref="Errors"/> lists every problem.</summary>
public sealed class ItemProjectionException : Exception
{
    public ItemProjectionException(IReadOnlyList<string> errors)
        : base("The item projection is invalid: " + string.Join(" ", errors))
    {
        Errors = errors;
    }

    public ItemProjectionException()
        : this(["The item projection is invalid."])
    {
    }

    public ItemProjectionException(string message)
        : this([message])
    {
    }

    public ItemProjectionException(string message, Exception inner)
        : base(message, inner)
    {
        Errors = [message];
    }

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<string> Errors { get; }
}
