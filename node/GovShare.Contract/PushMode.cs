namespace GovShare.Contract;

/// <summary>
/// How a push relates to the resource's previous version: the <c>mode</c> query value of a push
/// (<c>replace</c>, the default, <c>append</c> or <c>merge</c>).
/// </summary>
public enum PushMode
{
    /// <summary>The pushed rows are the whole new version.</summary>
    Replace,

    /// <summary>The new version is the previous version's rows followed by the pushed rows.</summary>
    Append,

    /// <summary>
    /// The pushed rows are changes by the resource's key items (catalog items with <c>key: true</c>):
    /// each row is an upsert, or a delete when its <see cref="MergeWire.DeleteColumn"/> is true.
    /// The new version is the previous version's rows whose key the push does not name, in their
    /// order, followed by the upserted rows in push order. See <see cref="MergeWire"/>.
    /// </summary>
    Merge,
}

/// <summary>
/// The wire form of a merge push (<c>POST /v1/resources/{code}/data?mode=merge</c>, an Arrow IPC
/// stream like every push).
/// <list type="bullet">
/// <item>The stream carries every item of the resource, by name or id, as a replace push does,
/// plus optionally one <c>bool</c> column named <see cref="DeleteColumn"/>.</item>
/// <item>A row whose delete column is <c>true</c> removes the row with that key from the dataset
/// (a key the dataset does not hold is no error: deletes are idempotent). Only its key items are
/// read; its other items may be null whatever the catalog says.</item>
/// <item>Any other row (delete column false or null, or no delete column) is an upsert: it takes
/// the place of the row with its key, or is added. Its values follow every item rule of a push.</item>
/// <item>Refused (400 <c>invalid-merge-key</c>): a null key item, or one key twice in the push.
/// Refused (409 <c>no-key-items</c>): a resource whose catalog entry names no key item.
/// Refused (409 <c>schema-mismatch</c>): the latest version was pushed under another item list.
/// Refused (409 <c>merge-conflict</c>): another push published a version while this merge was
/// being made; nothing was published, push it again.</item>
/// </list>
/// </summary>
public static class MergeWire
{
    /// <summary>The query value of the push mode.</summary>
    public const string Mode = "merge";

    /// <summary>The optional boolean column marking a row as a delete by key.</summary>
    public const string DeleteColumn = "govshare:delete";
}
