using GovShare.Node.Requests;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>The dataset store's versions as the disputes check them (Art. 27); reads the store's in-memory version lists.</summary>
public sealed class DatasetPublishedVersions(DatasetStore store) : IPublishedVersions
{
    public int? Latest(string resourceCode) => store.Latest(resourceCode)?.Version;

    public PublishedVersion? Find(string resourceCode, int version) =>
        store.Find(resourceCode, version) is { } found ? new PublishedVersion(found.ResourceCode, found.Version, found.ExchangeId, found.PushedAt) : null;
}
