"""Realistic Darwin Core Archives of any size, for the ingest benchmark and its tests.

    .venv/bin/python bench/dwca_generator.py OUT.zip --records 100000 [--seed 1]

An archive is what a natural-history collection publishes through an IPT: `meta.xml`
(core Occurrence, tab-delimited UTF-8, one header line, the ID in column 0), `eml.xml`,
`occurrence.txt` and a GBIF Simple Multimedia extension `multimedia.txt`. Records are
drawn from a few hundred real taxa (plants, insects and other arthropods, birds, mammals,
fungi, molluscs, fossils) with their classification and authorship, real places with
coordinates of varied precision, event dates in the ISO 8601 forms Darwin Core allows
(days, months, years, intervals, date-times), collectors, type statuses, preparations,
licences (CC0 or CC BY 4.0), and about 30% with one to three images.

The same seed gives the same bytes (one `random.Random(seed)`, fixed zip timestamps).
Rows are written as they are drawn, the media rows spooled to a temporary file until the
core file is done (a zip takes one member at a time): memory stays flat at any size.
"""

from __future__ import annotations

import argparse
import calendar
import io
import random
import shutil
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

DWC, DCTERMS = "http://rs.tdwg.org/dwc/terms/", "http://purl.org/dc/terms/"
OCCURRENCE = f"{DWC}Occurrence"
MULTIMEDIA = "http://rs.gbif.org/terms/1.0/Multimedia"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
CC_BY = "http://creativecommons.org/licenses/by/4.0/"
STAMP = (2024, 1, 1, 0, 0, 0)  # every member's zip timestamp: the same bytes every time
LAST_DAY = date(2025, 12, 31)
CORE_TERMS = (
    "occurrenceID", "catalogNumber", "basisOfRecord", "institutionCode", "institutionID",
    "collectionCode", "dcterms:license", "dcterms:rightsHolder", "dcterms:modified",
    "scientificName", "scientificNameAuthorship", "taxonRank", "kingdom", "phylum", "class",
    "order", "family", "genus", "specificEpithet", "nomenclaturalCode", "typeStatus",
    "identifiedBy", "dateIdentified", "eventDate", "verbatimEventDate", "recordedBy",
    "recordNumber", "habitat", "continent", "countryCode", "country", "stateProvince",
    "locality", "minimumElevationInMeters", "decimalLatitude", "decimalLongitude",
    "geodeticDatum", "coordinateUncertaintyInMeters", "preparations", "sex", "lifeStage",
    "individualCount")
MEDIA_TERMS = ("dcterms:identifier", "dcterms:type", "dcterms:format", "dcterms:title",
               "dcterms:created", "dcterms:creator", "dcterms:license",
               "dcterms:rightsHolder", "dcterms:references")

# (collection, kingdom, phylum, class, order, family, "Genus species Authorship; ...")
TAXA = (
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Fagales", "Fagaceae",
     "Quercus robur L.; Quercus petraea (Matt.) Liebl.; Quercus rubra L.; Quercus ilex L.; "
     "Fagus sylvatica L.; Castanea sativa Mill."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Fagales", "Betulaceae",
     "Betula pendula Roth; Betula pubescens Ehrh.; Alnus glutinosa (L.) Gaertn.; "
     "Carpinus betulus L.; Corylus avellana L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Rosales", "Rosaceae",
     "Rosa canina L.; Crataegus monogyna Jacq.; Prunus spinosa L.; Prunus avium (L.) L.; "
     "Sorbus aucuparia L.; Potentilla erecta (L.) Raeusch.; Rubus idaeus L.; "
     "Filipendula ulmaria (L.) Maxim.; Geum urbanum L.; Malus sylvestris (L.) Mill."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Asterales", "Asteraceae",
     "Bellis perennis L.; Taraxacum officinale F.H.Wigg.; Achillea millefolium L.; "
     "Leucanthemum vulgare Lam.; Cirsium arvense (L.) Scop.; Centaurea jacea L.; "
     "Arnica montana L.; Senecio vulgaris L.; Tussilago farfara L.; Helianthus annuus L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Lamiales", "Lamiaceae",
     "Lamium album L.; Mentha aquatica L.; Thymus serpyllum L.; Salvia pratensis L.; "
     "Prunella vulgaris L.; Glechoma hederacea L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Lamiales", "Plantaginaceae",
     "Plantago lanceolata L.; Plantago major L.; Veronica chamaedrys L.; "
     "Digitalis purpurea L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Fabales", "Fabaceae",
     "Trifolium pratense L.; Trifolium repens L.; Lotus corniculatus L.; Vicia cracca L.; "
     "Ulex europaeus L.; Cytisus scoparius (L.) Link; Lathyrus pratensis L.; "
     "Medicago sativa L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Ranunculales", "Ranunculaceae",
     "Ranunculus acris L.; Ranunculus repens L.; Anemone nemorosa L.; Caltha palustris L.; "
     "Ficaria verna Huds.; Pulsatilla vulgaris Mill."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Ranunculales", "Papaveraceae",
     "Papaver rhoeas L.; Chelidonium majus L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Caryophyllales", "Caryophyllaceae",
     "Silene dioica (L.) Clairv.; Silene flos-cuculi (L.) Greuter & Burdet; "
     "Stellaria media (L.) Vill.; Dianthus deltoides L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Caryophyllales", "Droseraceae",
     "Drosera rotundifolia L.; Drosera intermedia Hayne"),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Ericales", "Ericaceae",
     "Calluna vulgaris (L.) Hull; Erica tetralix L.; Vaccinium myrtillus L.; "
     "Vaccinium oxycoccos L.; Rhododendron ponticum L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Ericales", "Primulaceae",
     "Primula veris L.; Primula vulgaris Huds.; Lysimachia vulgaris L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Brassicales", "Brassicaceae",
     "Cardamine pratensis L.; Capsella bursa-pastoris (L.) Medik.; "
     "Alliaria petiolata (M.Bieb.) Cavara & Grande; Arabidopsis thaliana (L.) Heynh."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Apiales", "Apiaceae",
     "Heracleum sphondylium L.; Anthriscus sylvestris (L.) Hoffm.; Daucus carota L.; "
     "Eryngium maritimum L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Malpighiales", "Salicaceae",
     "Salix alba L.; Salix caprea L.; Populus tremula L.; Populus nigra L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Malpighiales", "Violaceae",
     "Viola odorata L.; Viola tricolor L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Sapindales", "Sapindaceae",
     "Acer pseudoplatanus L.; Acer campestre L.; Acer platanoides L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Gentianales", "Rubiaceae",
     "Galium aparine L.; Galium verum L.; Coffea arabica L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Solanales", "Solanaceae",
     "Solanum dulcamara L.; Solanum nigrum L.; Atropa belladonna L."),
    ("botany", "Plantae", "Tracheophyta", "Magnoliopsida", "Myrtales", "Onagraceae",
     "Chamaenerion angustifolium (L.) Scop.; Epilobium hirsutum L."),
    ("botany", "Plantae", "Tracheophyta", "Liliopsida", "Asparagales", "Orchidaceae",
     "Dactylorhiza maculata (L.) Soó; Orchis mascula (L.) L.; Ophrys apifera Huds.; "
     "Epipactis helleborine (L.) Crantz; Neottia ovata (L.) Bluff & Fingerh.; "
     "Anacamptis pyramidalis (L.) Rich."),
    ("botany", "Plantae", "Tracheophyta", "Liliopsida", "Asparagales", "Asparagaceae",
     "Convallaria majalis L.; Hyacinthoides non-scripta (L.) Chouard ex Rothm."),
    ("botany", "Plantae", "Tracheophyta", "Liliopsida", "Poales", "Poaceae",
     "Phragmites australis (Cav.) Trin. ex Steud.; Festuca rubra L.; Poa annua L.; "
     "Ammophila arenaria (L.) Link; Molinia caerulea (L.) Moench; "
     "Anthoxanthum odoratum L.; Lolium perenne L."),
    ("botany", "Plantae", "Tracheophyta", "Liliopsida", "Poales", "Cyperaceae",
     "Carex nigra (L.) Reichard; Carex arenaria L.; Eriophorum angustifolium Honck."),
    ("botany", "Plantae", "Tracheophyta", "Liliopsida", "Liliales", "Liliaceae",
     "Tulipa sylvestris L.; Fritillaria meleagris L."),
    ("botany", "Plantae", "Tracheophyta", "Pinopsida", "Pinales", "Pinaceae",
     "Pinus sylvestris L.; Picea abies (L.) H.Karst.; Larix decidua Mill.; Abies alba Mill."),
    ("botany", "Plantae", "Tracheophyta", "Pinopsida", "Pinales", "Cupressaceae",
     "Juniperus communis L."),
    ("botany", "Plantae", "Tracheophyta", "Polypodiopsida", "Polypodiales", "Dryopteridaceae",
     "Dryopteris filix-mas (L.) Schott"),
    ("botany", "Plantae", "Tracheophyta", "Polypodiopsida", "Osmundales", "Osmundaceae",
     "Osmunda regalis L."),
    ("botany", "Plantae", "Bryophyta", "Sphagnopsida", "Sphagnales", "Sphagnaceae",
     "Sphagnum palustre L.; Sphagnum magellanicum Brid."),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Hymenoptera", "Apidae",
     "Bombus terrestris (Linnaeus, 1758); Bombus lapidarius (Linnaeus, 1758); "
     "Bombus pascuorum (Scopoli, 1763); Bombus hortorum (Linnaeus, 1761); "
     "Apis mellifera Linnaeus, 1758; Anthophora plumipes (Pallas, 1772); "
     "Xylocopa violacea (Linnaeus, 1758); Nomada flava Panzer, 1798"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Hymenoptera", "Andrenidae",
     "Andrena fulva (Müller, 1766); Andrena cineraria (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Hymenoptera", "Formicidae",
     "Formica rufa Linnaeus, 1761; Lasius niger (Linnaeus, 1758); "
     "Myrmica rubra (Linnaeus, 1758); Camponotus ligniperda (Latreille, 1802)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Hymenoptera", "Vespidae",
     "Vespa crabro Linnaeus, 1758; Vespula vulgaris (Linnaeus, 1758); "
     "Polistes dominula (Christ, 1791)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Nymphalidae",
     "Vanessa atalanta (Linnaeus, 1758); Aglais io (Linnaeus, 1758); "
     "Aglais urticae (Linnaeus, 1758); Vanessa cardui (Linnaeus, 1758); "
     "Polygonia c-album (Linnaeus, 1758); Maniola jurtina (Linnaeus, 1758); "
     "Pararge aegeria (Linnaeus, 1758); Danaus plexippus (Linnaeus, 1758); "
     "Apatura iris (Linnaeus, 1758); Argynnis paphia (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Pieridae",
     "Pieris brassicae (Linnaeus, 1758); Pieris rapae (Linnaeus, 1758); "
     "Anthocharis cardamines (Linnaeus, 1758); Gonepteryx rhamni (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Lycaenidae",
     "Polyommatus icarus (Rottemburg, 1775); Lycaena phlaeas (Linnaeus, 1761); "
     "Celastrina argiolus (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Papilionidae",
     "Papilio machaon Linnaeus, 1758; Iphiclides podalirius (Linnaeus, 1758); "
     "Ornithoptera priamus (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Sphingidae",
     "Sphinx ligustri Linnaeus, 1758; Macroglossum stellatarum (Linnaeus, 1758); "
     "Deilephila elpenor (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Lepidoptera", "Erebidae",
     "Arctia caja (Linnaeus, 1758); Tyria jacobaeae (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Coleoptera", "Carabidae",
     "Carabus auratus Linnaeus, 1761; Carabus violaceus Linnaeus, 1758; "
     "Cicindela campestris Linnaeus, 1758; Calosoma sycophanta (Linnaeus, 1758); "
     "Pterostichus niger (Schaller, 1783)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Coleoptera", "Coccinellidae",
     "Coccinella septempunctata Linnaeus, 1758; Adalia bipunctata (Linnaeus, 1758); "
     "Harmonia axyridis (Pallas, 1773)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Coleoptera", "Lucanidae",
     "Lucanus cervus (Linnaeus, 1758); Dorcus parallelipipedus (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Coleoptera", "Scarabaeidae",
     "Melolontha melolontha (Linnaeus, 1758); Cetonia aurata (Linnaeus, 1761); "
     "Scarabaeus sacer Linnaeus, 1758; Dynastes hercules (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Coleoptera", "Cerambycidae",
     "Cerambyx cerdo Linnaeus, 1758; Rosalia alpina (Linnaeus, 1758); "
     "Aromia moschata (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Coleoptera", "Chrysomelidae",
     "Leptinotarsa decemlineata (Say, 1824); Chrysolina americana (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Coleoptera", "Dytiscidae",
     "Dytiscus marginalis Linnaeus, 1758"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Odonata", "Aeshnidae",
     "Aeshna cyanea (Müller, 1764); Aeshna grandis (Linnaeus, 1758); "
     "Anax imperator Leach, 1815"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Odonata", "Libellulidae",
     "Libellula depressa Linnaeus, 1758; Sympetrum striolatum (Charpentier, 1840); "
     "Orthetrum cancellatum (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Odonata", "Calopterygidae",
     "Calopteryx splendens (Harris, 1780); Calopteryx virgo (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Odonata", "Coenagrionidae",
     "Ischnura elegans (Vander Linden, 1820); Coenagrion puella (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Diptera", "Syrphidae",
     "Episyrphus balteatus (De Geer, 1776); Eristalis tenax (Linnaeus, 1758); "
     "Syrphus ribesii (Linnaeus, 1758); Volucella zonaria (Poda, 1761)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Diptera", "Culicidae",
     "Culex pipiens Linnaeus, 1758; Aedes aegypti (Linnaeus, 1762); "
     "Anopheles gambiae Giles, 1902"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Diptera", "Drosophilidae",
     "Drosophila melanogaster Meigen, 1830"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Orthoptera", "Tettigoniidae",
     "Tettigonia viridissima (Linnaeus, 1758); Meconema thalassinum (De Geer, 1773)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Orthoptera", "Acrididae",
     "Chorthippus brunneus (Thunberg, 1815); Locusta migratoria (Linnaeus, 1758); "
     "Schistocerca gregaria (Forsskål, 1775)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Hemiptera", "Pentatomidae",
     "Palomena prasina (Linnaeus, 1761); Pentatoma rufipes (Linnaeus, 1758)"),
    ("entomology", "Animalia", "Arthropoda", "Insecta", "Mantodea", "Mantidae",
     "Mantis religiosa (Linnaeus, 1758)"),
    ("arthropods", "Animalia", "Arthropoda", "Arachnida", "Araneae", "Araneidae",
     "Araneus diadematus Clerck, 1757; Argiope bruennichi (Scopoli, 1772)"),
    ("arthropods", "Animalia", "Arthropoda", "Malacostraca", "Decapoda", "Astacidae",
     "Astacus astacus (Linnaeus, 1758)"),
    ("arthropods", "Animalia", "Arthropoda", "Malacostraca", "Decapoda", "Carcinidae",
     "Carcinus maenas (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Passeriformes", "Paridae",
     "Parus major Linnaeus, 1758; Cyanistes caeruleus (Linnaeus, 1758); "
     "Periparus ater (Linnaeus, 1758); Poecile palustris (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Passeriformes", "Turdidae",
     "Turdus merula Linnaeus, 1758; Turdus philomelos Brehm, 1831; "
     "Turdus pilaris Linnaeus, 1758; Turdus viscivorus Linnaeus, 1758"),
    ("birds", "Animalia", "Chordata", "Aves", "Passeriformes", "Fringillidae",
     "Fringilla coelebs Linnaeus, 1758; Carduelis carduelis (Linnaeus, 1758); "
     "Pyrrhula pyrrhula (Linnaeus, 1758); Chloris chloris (Linnaeus, 1758); "
     "Loxia curvirostra Linnaeus, 1758"),
    ("birds", "Animalia", "Chordata", "Aves", "Passeriformes", "Corvidae",
     "Corvus corax Linnaeus, 1758; Corvus corone Linnaeus, 1758; Pica pica (Linnaeus, 1758); "
     "Garrulus glandarius (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Passeriformes", "Muscicapidae",
     "Erithacus rubecula (Linnaeus, 1758); Luscinia megarhynchos Brehm, 1831; "
     "Ficedula hypoleuca (Pallas, 1764)"),
    ("birds", "Animalia", "Chordata", "Aves", "Passeriformes", "Hirundinidae",
     "Hirundo rustica Linnaeus, 1758; Delichon urbicum (Linnaeus, 1758); "
     "Riparia riparia (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Passeriformes", "Passeridae",
     "Passer domesticus (Linnaeus, 1758); Passer montanus (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Passeriformes", "Sturnidae",
     "Sturnus vulgaris Linnaeus, 1758"),
    ("birds", "Animalia", "Chordata", "Aves", "Passeriformes", "Paradisaeidae",
     "Paradisaea apoda Linnaeus, 1758"),
    ("birds", "Animalia", "Chordata", "Aves", "Accipitriformes", "Accipitridae",
     "Buteo buteo (Linnaeus, 1758); Accipiter nisus (Linnaeus, 1758); "
     "Aquila chrysaetos (Linnaeus, 1758); Haliaeetus albicilla (Linnaeus, 1758); "
     "Milvus milvus (Linnaeus, 1758); Circus aeruginosus (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Falconiformes", "Falconidae",
     "Falco peregrinus Tunstall, 1771; Falco tinnunculus Linnaeus, 1758; "
     "Falco subbuteo Linnaeus, 1758"),
    ("birds", "Animalia", "Chordata", "Aves", "Strigiformes", "Strigidae",
     "Bubo bubo (Linnaeus, 1758); Strix aluco Linnaeus, 1758; Athene noctua (Scopoli, 1769); "
     "Asio otus (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Strigiformes", "Tytonidae",
     "Tyto alba (Scopoli, 1769)"),
    ("birds", "Animalia", "Chordata", "Aves", "Anseriformes", "Anatidae",
     "Anas platyrhynchos Linnaeus, 1758; Anser anser (Linnaeus, 1758); "
     "Cygnus olor (Gmelin, 1789); Branta leucopsis (Bechstein, 1803); "
     "Aythya fuligula (Linnaeus, 1758); Tadorna tadorna (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Charadriiformes", "Scolopacidae",
     "Numenius arquata (Linnaeus, 1758); Limosa limosa (Linnaeus, 1758); "
     "Calidris alpina (Linnaeus, 1758); Scolopax rusticola Linnaeus, 1758"),
    ("birds", "Animalia", "Chordata", "Aves", "Charadriiformes", "Laridae",
     "Larus argentatus Pontoppidan, 1763; Chroicocephalus ridibundus (Linnaeus, 1766); "
     "Sterna hirundo Linnaeus, 1758"),
    ("birds", "Animalia", "Chordata", "Aves", "Charadriiformes", "Charadriidae",
     "Vanellus vanellus (Linnaeus, 1758); Charadrius hiaticula Linnaeus, 1758"),
    ("birds", "Animalia", "Chordata", "Aves", "Charadriiformes", "Alcidae",
     "Fratercula arctica (Linnaeus, 1758); Alca torda Linnaeus, 1758"),
    ("birds", "Animalia", "Chordata", "Aves", "Pelecaniformes", "Ardeidae",
     "Ardea cinerea Linnaeus, 1758; Egretta garzetta (Linnaeus, 1766); "
     "Botaurus stellaris (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Ciconiiformes", "Ciconiidae",
     "Ciconia ciconia (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Piciformes", "Picidae",
     "Dendrocopos major (Linnaeus, 1758); Picus viridis Linnaeus, 1758; "
     "Dryocopus martius (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Columbiformes", "Columbidae",
     "Columba palumbus Linnaeus, 1758; Streptopelia decaocto (Frivaldszky, 1838); "
     "Columba livia Gmelin, 1789; Streptopelia turtur (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Coraciiformes", "Alcedinidae",
     "Alcedo atthis (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Psittaciformes", "Psittacidae",
     "Psittacus erithacus Linnaeus, 1758; Ara macao (Linnaeus, 1758)"),
    ("birds", "Animalia", "Chordata", "Aves", "Galliformes", "Phasianidae",
     "Phasianus colchicus Linnaeus, 1758; Perdix perdix (Linnaeus, 1758); "
     "Lagopus muta (Montin, 1781); Pavo cristatus Linnaeus, 1758"),
    ("birds", "Animalia", "Chordata", "Aves", "Cuculiformes", "Cuculidae",
     "Cuculus canorus Linnaeus, 1758"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Carnivora", "Canidae",
     "Vulpes vulpes (Linnaeus, 1758); Canis lupus Linnaeus, 1758; "
     "Vulpes lagopus (Linnaeus, 1758)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Carnivora", "Mustelidae",
     "Meles meles (Linnaeus, 1758); Mustela erminea Linnaeus, 1758; "
     "Mustela nivalis Linnaeus, 1766; Lutra lutra (Linnaeus, 1758); "
     "Martes martes (Linnaeus, 1758); Gulo gulo (Linnaeus, 1758)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Carnivora", "Felidae",
     "Felis silvestris Schreber, 1777; Lynx lynx (Linnaeus, 1758); "
     "Panthera leo (Linnaeus, 1758); Panthera tigris (Linnaeus, 1758)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Carnivora", "Ursidae",
     "Ursus arctos Linnaeus, 1758; Ursus maritimus Phipps, 1774"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Carnivora", "Phocidae",
     "Phoca vitulina Linnaeus, 1758; Halichoerus grypus (Fabricius, 1791)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Rodentia", "Muridae",
     "Apodemus sylvaticus (Linnaeus, 1758); Mus musculus Linnaeus, 1758; "
     "Rattus norvegicus (Berkenhout, 1769); Rattus rattus (Linnaeus, 1758)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Rodentia", "Cricetidae",
     "Microtus arvalis (Pallas, 1778); Myodes glareolus (Schreber, 1780); "
     "Arvicola amphibius (Linnaeus, 1758); Ondatra zibethicus (Linnaeus, 1766)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Rodentia", "Sciuridae",
     "Sciurus vulgaris Linnaeus, 1758; Marmota marmota (Linnaeus, 1758)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Rodentia", "Castoridae",
     "Castor fiber Linnaeus, 1758"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Rodentia", "Gliridae",
     "Muscardinus avellanarius (Linnaeus, 1758); Glis glis (Linnaeus, 1766)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Eulipotyphla", "Erinaceidae",
     "Erinaceus europaeus Linnaeus, 1758"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Eulipotyphla", "Soricidae",
     "Sorex araneus Linnaeus, 1758; Crocidura russula (Hermann, 1780); "
     "Neomys fodiens (Pennant, 1771)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Eulipotyphla", "Talpidae",
     "Talpa europaea Linnaeus, 1758"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Chiroptera", "Vespertilionidae",
     "Pipistrellus pipistrellus (Schreber, 1774); Myotis daubentonii (Kuhl, 1817); "
     "Nyctalus noctula (Schreber, 1774); Plecotus auritus (Linnaeus, 1758); "
     "Eptesicus serotinus (Schreber, 1774)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Chiroptera", "Rhinolophidae",
     "Rhinolophus ferrumequinum (Schreber, 1774)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Artiodactyla", "Cervidae",
     "Capreolus capreolus (Linnaeus, 1758); Cervus elaphus Linnaeus, 1758; "
     "Dama dama (Linnaeus, 1758); Alces alces (Linnaeus, 1758); "
     "Rangifer tarandus (Linnaeus, 1758)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Artiodactyla", "Bovidae",
     "Bison bonasus (Linnaeus, 1758); Capra ibex Linnaeus, 1758; "
     "Rupicapra rupicapra (Linnaeus, 1758)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Artiodactyla", "Suidae",
     "Sus scrofa Linnaeus, 1758"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Lagomorpha", "Leporidae",
     "Lepus europaeus Pallas, 1778; Lepus timidus Linnaeus, 1758; "
     "Oryctolagus cuniculus (Linnaeus, 1758)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Primates", "Hominidae",
     "Pongo pygmaeus (Linnaeus, 1760); Pan troglodytes (Blumenbach, 1775); "
     "Gorilla gorilla (Savage, 1847)"),
    ("mammals", "Animalia", "Chordata", "Mammalia", "Monotremata", "Ornithorhynchidae",
     "Ornithorhynchus anatinus (Shaw, 1799)"),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Agaricales", "Amanitaceae",
     "Amanita muscaria (L.) Lam.; Amanita phalloides (Vaill. ex Fr.) Link; "
     "Amanita rubescens Pers.; Amanita citrina Pers."),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Agaricales", "Agaricaceae",
     "Agaricus campestris L.; Coprinus comatus (O.F.Müll.) Pers.; Lycoperdon perlatum Pers.; "
     "Macrolepiota procera (Scop.) Singer"),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Agaricales", "Physalacriaceae",
     "Armillaria mellea (Vahl) P.Kumm.; Flammulina velutipes (Curtis) Singer"),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Agaricales", "Pleurotaceae",
     "Pleurotus ostreatus (Jacq.) P.Kumm."),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Agaricales", "Hygrophoraceae",
     "Hygrocybe coccinea (Schaeff.) P.Kumm.; Hygrocybe punicea (Fr.) P.Kumm."),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Agaricales", "Strophariaceae",
     "Hypholoma fasciculare (Huds.) P.Kumm.; Stropharia aeruginosa (Curtis) Quél."),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Boletales", "Boletaceae",
     "Boletus edulis Bull.; Leccinum scabrum (Bull.) Gray; "
     "Xerocomellus chrysenteron (Bull.) Šutara"),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Boletales", "Suillaceae",
     "Suillus luteus (L.) Roussel; Suillus grevillei (Klotzsch) Singer"),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Boletales", "Paxillaceae",
     "Paxillus involutus (Batsch) Fr."),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Russulales", "Russulaceae",
     "Russula emetica (Schaeff.) Pers.; Russula cyanoxantha (Schaeff.) Fr.; "
     "Lactarius deliciosus (L.) Gray; Lactarius torminosus (Schaeff.) Pers."),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Polyporales", "Polyporaceae",
     "Trametes versicolor (L.) Lloyd; Fomes fomentarius (L.) Fr.; "
     "Daedaleopsis confragosa (Bolton) J.Schröt."),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Polyporales", "Fomitopsidaceae",
     "Laetiporus sulphureus (Bull.) Murrill"),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Cantharellales", "Hydnaceae",
     "Cantharellus cibarius Fr.; Hydnum repandum L."),
    ("mycology", "Fungi", "Basidiomycota", "Agaricomycetes", "Phallales", "Phallaceae",
     "Phallus impudicus L.; Clathrus archeri (Berk.) Dring"),
    ("mycology", "Fungi", "Ascomycota", "Pezizomycetes", "Pezizales", "Morchellaceae",
     "Morchella esculenta (L.) Pers."),
    ("mycology", "Fungi", "Ascomycota", "Pezizomycetes", "Pezizales", "Sarcoscyphaceae",
     "Sarcoscypha coccinea (Gray) Boud."),
    ("mycology", "Fungi", "Ascomycota", "Sordariomycetes", "Xylariales", "Xylariaceae",
     "Xylaria hypoxylon (L.) Grev.; Xylaria polymorpha (Pers.) Grev."),
    ("mycology", "Fungi", "Ascomycota", "Sordariomycetes", "Hypocreales", "Clavicipitaceae",
     "Claviceps purpurea (Fr.) Tul."),
    ("mycology", "Fungi", "Ascomycota", "Lecanoromycetes", "Lecanorales", "Parmeliaceae",
     "Evernia prunastri (L.) Ach.; Hypogymnia physodes (L.) Nyl.; "
     "Cetraria islandica (L.) Ach."),
    ("mycology", "Fungi", "Ascomycota", "Lecanoromycetes", "Teloschistales", "Teloschistaceae",
     "Xanthoria parietina (L.) Th.Fr."),
    ("mycology", "Fungi", "Ascomycota", "Lecanoromycetes", "Peltigerales", "Peltigeraceae",
     "Peltigera canina (L.) Willd."),
    ("molluscs", "Animalia", "Mollusca", "Gastropoda", "Stylommatophora", "Helicidae",
     "Helix pomatia Linnaeus, 1758; Cornu aspersum (Müller, 1774); "
     "Cepaea nemoralis (Linnaeus, 1758); Cepaea hortensis (Müller, 1774); "
     "Arianta arbustorum (Linnaeus, 1758)"),
    ("molluscs", "Animalia", "Mollusca", "Gastropoda", "Stylommatophora", "Arionidae",
     "Arion rufus (Linnaeus, 1758); Arion ater (Linnaeus, 1758)"),
    ("molluscs", "Animalia", "Mollusca", "Gastropoda", "Stylommatophora", "Limacidae",
     "Limax maximus Linnaeus, 1758"),
    ("molluscs", "Animalia", "Mollusca", "Gastropoda", "Littorinimorpha", "Littorinidae",
     "Littorina littorea (Linnaeus, 1758)"),
    ("molluscs", "Animalia", "Mollusca", "Gastropoda", "Littorinimorpha", "Cypraeidae",
     "Cypraea tigris Linnaeus, 1758; Monetaria moneta (Linnaeus, 1758)"),
    ("molluscs", "Animalia", "Mollusca", "Gastropoda", "Neogastropoda", "Buccinidae",
     "Buccinum undatum Linnaeus, 1758"),
    ("molluscs", "Animalia", "Mollusca", "Gastropoda", "Neogastropoda", "Conidae",
     "Conus textile Linnaeus, 1758; Conus marmoreus Linnaeus, 1758"),
    ("molluscs", "Animalia", "Mollusca", "Gastropoda", "Neogastropoda", "Muricidae",
     "Nucella lapillus (Linnaeus, 1758); Bolinus brandaris (Linnaeus, 1758)"),
    ("molluscs", "Animalia", "Mollusca", "Gastropoda", "Hygrophila", "Lymnaeidae",
     "Lymnaea stagnalis (Linnaeus, 1758)"),
    ("molluscs", "Animalia", "Mollusca", "Bivalvia", "Mytilida", "Mytilidae",
     "Mytilus edulis Linnaeus, 1758"),
    ("molluscs", "Animalia", "Mollusca", "Bivalvia", "Ostreida", "Ostreidae",
     "Ostrea edulis Linnaeus, 1758; Magallana gigas (Thunberg, 1793)"),
    ("molluscs", "Animalia", "Mollusca", "Bivalvia", "Pectinida", "Pectinidae",
     "Pecten maximus (Linnaeus, 1758); Aequipecten opercularis (Linnaeus, 1758)"),
    ("molluscs", "Animalia", "Mollusca", "Bivalvia", "Cardiida", "Cardiidae",
     "Cerastoderma edule (Linnaeus, 1758); Tridacna gigas (Linnaeus, 1758)"),
    ("molluscs", "Animalia", "Mollusca", "Bivalvia", "Unionida", "Unionidae",
     "Unio pictorum (Linnaeus, 1758); Anodonta cygnea (Linnaeus, 1758)"),
    ("molluscs", "Animalia", "Mollusca", "Cephalopoda", "Sepiida", "Sepiidae",
     "Sepia officinalis Linnaeus, 1758"),
    ("molluscs", "Animalia", "Mollusca", "Cephalopoda", "Octopoda", "Octopodidae",
     "Octopus vulgaris Cuvier, 1797"),
    ("molluscs", "Animalia", "Mollusca", "Cephalopoda", "Nautilida", "Nautilidae",
     "Nautilus pompilius Linnaeus, 1758"),
    ("fossils", "Animalia", "Mollusca", "Cephalopoda", "Ammonitida", "Dactylioceratidae",
     "Dactylioceras commune (Sowerby, 1815)"),
    ("fossils", "Animalia", "Mollusca", "Cephalopoda", "Ammonitida", "Hildoceratidae",
     "Hildoceras bifrons (Bruguière, 1789)"),
    ("fossils", "Animalia", "Mollusca", "Bivalvia", "Ostreida", "Gryphaeidae",
     "Gryphaea arcuata Lamarck, 1801"),
    ("fossils", "Animalia", "Arthropoda", "Trilobita", "Phacopida", "Phacopidae",
     "Phacops rana (Green, 1832)"),
    ("fossils", "Animalia", "Arthropoda", "Trilobita", "Phacopida", "Calymenidae",
     "Calymene blumenbachii Brongniart, 1822"),
    ("fossils", "Animalia", "Echinodermata", "Echinoidea", "Spatangoida", "Micrasteridae",
     "Micraster coranguinum (Leske, 1778)"),
    ("fossils", "Animalia", "Chordata", "Mammalia", "Proboscidea", "Elephantidae",
     "Mammuthus primigenius (Blumenbach, 1799)"),
    ("fossils", "Animalia", "Chordata", "Mammalia", "Perissodactyla", "Rhinocerotidae",
     "Coelodonta antiquitatis (Blumenbach, 1799)"),
    ("fossils", "Animalia", "Chordata", "Mammalia", "Carnivora", "Ursidae",
     "Ursus spelaeus Rosenmüller, 1794"),
    ("fossils", "Animalia", "Chordata", "Mammalia", "Artiodactyla", "Cervidae",
     "Megaloceros giganteus (Blumenbach, 1799)"),
)


@dataclass(frozen=True)
class Taxon:
    collection: str
    kingdom: str
    phylum: str
    klass: str
    order: str
    family: str
    genus: str
    epithet: str
    authorship: str

    @property
    def name(self) -> str:
        return f"{self.genus} {self.epithet} {self.authorship}"


@cache
def taxa() -> tuple[Taxon, ...]:
    """Every taxon of TAXA, its name split into genus, epithet and authorship."""
    found = []
    for collection, kingdom, phylum, klass, order, family, names in TAXA:
        for name in names.split("; "):
            genus, epithet, authorship = name.split(" ", 2)
            found.append(Taxon(collection, kingdom, phylum, klass, order, family, genus,
                               epithet, authorship))
    return tuple(found)


@dataclass(frozen=True)
class Collection:
    code: str
    nomenclature: str
    preparations: tuple[str, ...]
    life_stages: tuple[str, ...] = ()
    habitats: tuple[str, ...] = ()
    views: tuple[str, ...] = ("habitus", "label")


_LAND = ("deciduous forest", "dune grassland", "heathland", "roadside verge", "bog",
         "river bank", "limestone grassland", "pine forest", "tropical rainforest", "garden")
COLLECTIONS = {
    "botany": Collection("Botany", "ICN", ("herbarium sheet", "pressed and dried",
                         "seeds in envelope", "spirit collection"), (), _LAND,
                         ("herbarium sheet", "label", "detail of flowers")),
    "entomology": Collection("Entomology", "ICZN", ("pinned", "dry, on card point",
                             "in ethanol 70%", "slide mounted", "spread"),
                             ("adult", "larva", "pupa", "nymph"), _LAND,
                             ("habitus dorsal", "habitus lateral", "labels")),
    "arthropods": Collection("Arthropoda", "ICZN", ("in ethanol 70%", "dry"),
                             ("adult", "juvenile"), ("freshwater", "rocky shore", "garden")),
    "birds": Collection("Aves", "ICZN", ("study skin", "skeleton", "mounted", "egg",
                        "skin and skeleton"), ("adult", "juvenile", "first-year"), _LAND,
                        ("dorsal", "ventral", "lateral", "label")),
    "mammals": Collection("Mammalia", "ICZN", ("skin and skull", "skull", "skeleton",
                          "in alcohol"), ("adult", "juvenile", "subadult"), _LAND,
                          ("skull dorsal", "skull lateral", "skin", "label")),
    "mycology": Collection("Mycology", "ICN", ("dried fruit body", "dried", "culture",
                           "in silica gel"), (), _LAND, ("fruit body", "label")),
    "molluscs": Collection("Mollusca", "ICZN", ("dry shell", "shell", "in ethanol 70%",
                           "in formalin"), ("adult", "juvenile"),
                           ("rocky shore", "sandy beach", "freshwater", "garden"),
                           ("apertural", "abapertural", "label")),
    "fossils": Collection("Paleontology", "ICZN", ("fossil in matrix", "prepared fossil",
                          "cast", "thin section"), (), (), ("specimen", "label")),
}
TYPES = {"ICN": ("holotype", "isotype", "lectotype", "syntype", "paratype"),
         "ICZN": ("holotype", "paratype", "syntype", "lectotype", "paralectotype", "neotype")}


@dataclass(frozen=True)
class Institution:
    code: str
    ror: str
    name: str
    prefixes: dict[str, str]  # collection -> catalogue number prefix
    image: str  # image URL, of {catalog} and {n}
    page: str  # specimen page, of {catalog}

    def url(self, template: str, catalog: str, n: int = 0) -> str:
        return template.format(catalog=quote(catalog.replace(" ", "")), n=n)


INSTITUTIONS = (
    Institution("Naturalis", "https://ror.org/0566bfb96", "Naturalis Biodiversity Center",
                {"botany": "L.", "entomology": "RMNH.INS.", "arthropods": "RMNH.CRUS.",
                 "birds": "RMNH.AVES.", "mammals": "RMNH.MAM.", "mycology": "L.",
                 "molluscs": "RMNH.MOL.", "fossils": "RGM."},
                "https://medialib.naturalis.nl/file/id/{catalog}_{n}/format/large",
                "https://data.biodiversitydata.nl/naturalis/specimen/{catalog}"),
    Institution("B", "https://ror.org/00bv4cx53", "Botanic Garden and Botanical Museum Berlin",
                {"botany": "B 10 ", "mycology": "B 70 "},
                "https://ww2.bgbm.org/herbarium/images/B/{catalog}/{n}.jpg",
                "https://herbarium.bgbm.org/object/{catalog}"),
    Institution("NHMD", "https://ror.org/040ck2b86", "Natural History Museum of Denmark",
                {"entomology": "NHMD-ENT-", "arthropods": "NHMD-CRU-", "birds": "NHMD-AVES-",
                 "mammals": "NHMD-MAM-", "molluscs": "NHMD-MOL-", "fossils": "NHMD-PAL-"},
                "https://specimens.snm.ku.dk/media/{catalog}/{n}.jpg",
                "https://specimens.snm.ku.dk/specimen/{catalog}"),
    Institution("TU", "https://ror.org/049h10h83",
                "University of Tartu Natural History Museum and Botanical Garden",
                {"botany": "TU", "mycology": "TUF", "molluscs": "TUMOL", "fossils": "GIT "},
                "https://files.plutof.ut.ee/public/orig/{catalog}_{n}.jpeg",
                "https://plutof.ut.ee/#/specimen/view/{catalog}"),
)

# (country, code, continent, state or province, locality, latitude, longitude, spread in
# degrees, highest elevation in metres)
PLACES = (
    ("Netherlands", "NL", "Europe", "Zuid-Holland", "Meijendel, Wassenaar", 52.13, 4.36,
     0.03, 40),
    ("Netherlands", "NL", "Europe", "Noord-Holland", "Nationaal Park Zuid-Kennemerland",
     52.41, 4.56, 0.04, 50),
    ("Netherlands", "NL", "Europe", "Gelderland", "Hoge Veluwe", 52.07, 5.83, 0.08, 100),
    ("Netherlands", "NL", "Europe", "Limburg", "Sint-Pietersberg, Maastricht", 50.83, 5.69,
     0.02, 170),
    ("Netherlands", "NL", "Europe", "Fryslân", "Terschelling, Boschplaat", 53.43, 5.50, 0.05,
     20),
    ("Belgium", "BE", "Europe", "Namur", "Han-sur-Lesse", 50.13, 5.19, 0.05, 300),
    ("Germany", "DE", "Europe", "Bayern", "Nationalpark Berchtesgaden", 47.55, 12.95, 0.08,
     2700),
    ("Germany", "DE", "Europe", "Berlin", "Berlin-Dahlem", 52.456, 13.304, 0.02, 60),
    ("Denmark", "DK", "Europe", "Syddanmark", "Rømø", 55.13, 8.53, 0.04, 20),
    ("Denmark", "DK", "Europe", "Hovedstaden", "Dyrehaven, Klampenborg", 55.79, 12.56, 0.02,
     50),
    ("United Kingdom", "GB", "Europe", "Scotland", "Cairngorms, Glenmore", 57.17, -3.69, 0.1,
     1300),
    ("France", "FR", "Europe", "Nouvelle-Aquitaine", "Île de Ré", 46.20, -1.42, 0.06, 20),
    ("France", "FR", "Europe", "Provence-Alpes-Côte d'Azur", "Parc national des Écrins",
     44.85, 6.30, 0.1, 3500),
    ("Spain", "ES", "Europe", "Andalucía", "Parque Nacional de Doñana", 37.00, -6.44, 0.1, 40),
    ("Sweden", "SE", "Europe", "Norrbotten", "Abisko", 68.35, 18.83, 0.1, 1200),
    ("Estonia", "EE", "Europe", "Tartumaa", "Tartu, Raadi", 58.39, 26.76, 0.03, 80),
    ("Poland", "PL", "Europe", "Podlaskie", "Puszcza Białowieska", 52.73, 23.87, 0.08, 170),
    ("Switzerland", "CH", "Europe", "Graubünden", "Zernez, Swiss National Park", 46.66, 10.20,
     0.06, 3100),
    ("Greece", "GR", "Europe", "Kriti", "Samaria Gorge", 35.27, 23.96, 0.04, 1200),
    ("Kenya", "KE", "Africa", "Kakamega", "Kakamega Forest", 0.283, 34.867, 0.05, 1600),
    ("Tanzania", "TZ", "Africa", "Kilimanjaro", "Marangu", -3.23, 37.52, 0.06, 4500),
    ("South Africa", "ZA", "Africa", "Western Cape", "Table Mountain", -33.96, 18.40, 0.04,
     1000),
    ("Madagascar", "MG", "Africa", "Fianarantsoa", "Ranomafana", -21.26, 47.42, 0.05, 1200),
    ("Indonesia", "ID", "Asia", "Jawa Barat", "Bogor, Kebun Raya", -6.598, 106.799, 0.02, 300),
    ("Indonesia", "ID", "Asia", "Sulawesi Utara", "Tangkoko", 1.55, 125.16, 0.04, 1100),
    ("Indonesia", "ID", "Asia", "Papua", "Baliem Valley, Wamena", -4.10, 138.95, 0.1, 3000),
    ("Malaysia", "MY", "Asia", "Sabah", "Kinabalu Park", 6.08, 116.55, 0.06, 4000),
    ("Sri Lanka", "LK", "Asia", "Sabaragamuwa", "Sinharaja Forest Reserve", 6.40, 80.45, 0.04,
     1100),
    ("Japan", "JP", "Asia", "Kagoshima", "Yakushima", 30.35, 130.53, 0.06, 1900),
    ("Suriname", "SR", "South America", "Brokopondo", "Brownsberg", 4.95, -55.18, 0.04, 500),
    ("Brazil", "BR", "South America", "Rio de Janeiro", "Floresta da Tijuca", -22.95, -43.28,
     0.03, 1000),
    ("Brazil", "BR", "South America", "Amazonas", "Reserva Ducke, Manaus", -2.95, -59.95, 0.05,
     120),
    ("Ecuador", "EC", "South America", "Galápagos", "Isla Santa Cruz", -0.65, -90.40, 0.08,
     860),
    ("Chile", "CL", "South America", "Magallanes", "Torres del Paine", -51.0, -73.0, 0.1,
     2500),
    ("Costa Rica", "CR", "North America", "Puntarenas", "Monteverde", 10.30, -84.80, 0.04,
     1800),
    ("Curaçao", "CW", "North America", "Curaçao", "Christoffelpark", 12.33, -69.14, 0.03, 370),
    ("United States", "US", "North America", "Arizona", "Chiricahua Mountains", 31.88,
     -109.20, 0.08, 2900),
    ("Canada", "CA", "North America", "British Columbia", "Tofino, Vancouver Island", 49.15,
     -125.90, 0.06, 800),
    ("Greenland", "GL", "North America", "Sermersooq", "Nuuk, Kobbefjord", 64.13, -51.38,
     0.05, 600),
    ("Australia", "AU", "Oceania", "Queensland", "Daintree", -16.25, 145.32, 0.08, 1300),
    ("New Zealand", "NZ", "Oceania", "Canterbury", "Arthur's Pass", -42.94, 171.56, 0.06,
     2000),
    ("Papua New Guinea", "PG", "Oceania", "Morobe", "Wau", -7.34, 146.72, 0.06, 2500),
)
PEOPLE = ("J. van der Berg", "M. de Vries", "A. Soto", "K. Wanjiru", "S. Hartono",
          "L. Schmidt", "H. Jensen", "E. Tamm", "P. Ørsted", "C. Dubois", "R. Kowalski",
          "T. Nakamura", "F. Müller", "G. Rossi", "B. Andersson", "D. Okafor", "I. Silva",
          "N. Papadopoulos", "O. Kask", "W. Smith", "Y. Tanaka", "Z. Novák", "M. Bakker",
          "J. Janssen", "E.J.H. Corner", "H.O. Forbes", "A.R. Wallace", "C.L. Blume",
          "F. Junghuhn", "P. Buitendijk", "M.S.S. Lindeman", "J.Th. Henrard")
CREATORS = ("Naturalis Imaging Team", "M. Aarts", "R. de Ruiter", "B. Klein", "S. Lund",
            "K. Sepp", "Digitisation Street Leiden")


def write_archive(path: Path, records: int, seed: int = 1) -> dict[str, Any]:
    """A Darwin Core Archive of `records` occurrences at `path` (a zip), streamed; the
    same seed gives the same bytes. Returns {"records", "records_with_media",
    "media_rows", "bytes"}."""
    rng = random.Random(seed)
    offset = rng.randrange(10**7)  # catalogue serials: a permutation of 0..10^7-1
    media_rows = with_media = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        _write_member(archive, "meta.xml", io.StringIO(meta_xml()))
        _write_member(archive, "eml.xml", io.StringIO(_eml(records, seed)))
        spool.write("\t".join(["coreid", *_local(MEDIA_TERMS)]) + "\n")
        with _member(archive, "occurrence.txt") as core:
            core.write("\t".join(["id", *_local(CORE_TERMS)]) + "\n")
            for number in range(records):
                row, media = _record(rng, (number * 7919 + offset) % 10**7)
                core.write("\t".join([row["occurrenceID"], *(row.get(term, "")
                                                             for term in CORE_TERMS)]) + "\n")
                for item in media:
                    spool.write("\t".join([row["occurrenceID"], *item]) + "\n")
                media_rows += len(media)
                with_media += bool(media)
        spool.seek(0)
        _write_member(archive, "multimedia.txt", spool)
    return {"records": records, "records_with_media": with_media, "media_rows": media_rows,
            "bytes": path.stat().st_size}


def _member(archive: zipfile.ZipFile, name: str) -> IO[str]:
    info = zipfile.ZipInfo(name, date_time=STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return io.TextIOWrapper(archive.open(info, "w", force_zip64=True), encoding="utf-8",
                            newline="")


def _write_member(archive: zipfile.ZipFile, name: str, source: IO[str]) -> None:
    with _member(archive, name) as member:
        shutil.copyfileobj(source, member)


def _local(terms: tuple[str, ...]) -> list[str]:
    return [term.split(":")[-1] for term in terms]


def _iri(term: str) -> str:
    return DCTERMS + term[8:] if term.startswith("dcterms:") else DWC + term


def meta_xml() -> str:
    """The archive's descriptor: tab-delimited UTF-8, unquoted, one header line."""
    def fields(terms: tuple[str, ...]) -> str:
        return "".join(f'\n    <field index="{index}" term="{_iri(term)}"/>'
                       for index, term in enumerate(terms, start=1))

    layout = ('encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" '
              'fieldsEnclosedBy="" ignoreHeaderLines="1"')
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">\n'
            f'  <core {layout} rowType="{OCCURRENCE}">\n'
            f'    <files><location>occurrence.txt</location></files>\n    <id index="0"/>'
            f'{fields(CORE_TERMS)}\n  </core>\n'
            f'  <extension {layout} rowType="{MULTIMEDIA}">\n'
            f'    <files><location>multimedia.txt</location></files>\n    <coreid index="0"/>'
            f'{fields(MEDIA_TERMS)}\n  </extension>\n</archive>\n')


def _eml(records: int, seed: int) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1" '
            f'packageId="bench-{seed}-{records}" system="http://gbif.org" xml:lang="en">\n'
            f'  <dataset><title>Benchmark collection ({records:,} specimens, seed {seed})'
            f'</title>\n    <creator><organizationName>Naturalis Biodiversity Center'
            f'</organizationName></creator>\n    <pubDate>2024-01-01</pubDate>\n'
            f'    <intellectualRights><para>{CC0}</para></intellectualRights>\n'
            f'  </dataset>\n</eml:eml>\n')


def _record(rng: random.Random, serial: int) -> tuple[dict[str, str], list[list[str]]]:
    """One occurrence row ({local term: value}) and its media rows."""
    taxon = rng.choice(taxa())
    collection = COLLECTIONS[taxon.collection]
    institution = _institution(rng, taxon.collection)
    catalog = f"{institution.prefixes[taxon.collection]}{serial:07d}"
    row = {"catalogNumber": catalog, "institutionCode": institution.code,
           "institutionID": institution.ror, "collectionCode": collection.code,
           "dcterms:rightsHolder": institution.name,
           "dcterms:license": CC0 if rng.random() < 0.75 else CC_BY,
           "dcterms:modified": _modified(rng),
           "occurrenceID": (institution.url(institution.page, catalog) if rng.random() < 0.1
                            else f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}")}
    row |= _taxon(rng, taxon, collection)
    year, event = _event(rng)
    row |= event
    row |= _place(rng, year, collection)
    row |= _specimen(rng, taxon, collection)
    return row, list(_media(rng, institution, catalog, collection))


def _institution(rng: random.Random, collection: str) -> Institution:
    holding = [item for item in INSTITUTIONS if collection in item.prefixes]
    return rng.choices(holding, weights=[4] + [1] * (len(holding) - 1))[0]


def _taxon(rng: random.Random, taxon: Taxon, collection: Collection) -> dict[str, str]:
    row = {"scientificName": taxon.name, "scientificNameAuthorship": taxon.authorship,
           "taxonRank": "species", "kingdom": taxon.kingdom, "phylum": taxon.phylum,
           "class": taxon.klass, "order": taxon.order, "family": taxon.family,
           "genus": taxon.genus, "specificEpithet": taxon.epithet,
           "nomenclaturalCode": collection.nomenclature}
    if rng.random() < 0.03:
        row["typeStatus"] = rng.choice(TYPES[collection.nomenclature])
    return row


def _people(rng: random.Random) -> str:
    count = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
    return " | ".join(rng.sample(PEOPLE, count))


def _day(rng: random.Random, year: int, month: int | None = None) -> date:
    month = month or rng.randint(1, 12)
    return date(year, month, rng.randint(1, calendar.monthrange(year, month)[1]))


def _event(rng: random.Random) -> tuple[int, dict[str, str]]:
    """The year and the event's terms: eventDate in one of Darwin Core's ISO forms."""
    year = min(2025, 1850 + int(rng.triangular(0, 176, 150)))
    start = _day(rng, year)
    end = min(start + timedelta(days=rng.randint(1, 20)), LAST_DAY)
    form = rng.choices(("day", "month", "year", "days", "short", "months", "time", "years"),
                       weights=(50, 12, 6, 14, 3, 4, 7, 4))[0]
    if form in ("days", "short") and end == start:
        form = "day"
    when = {"day": start.isoformat(), "month": start.isoformat()[:7], "year": str(year),
            "days": f"{start.isoformat()}/{end.isoformat()}",
            "short": (f"{start.isoformat()}/{end.day:02d}" if end.month == start.month
                      else f"{start.isoformat()}/{end.isoformat()[5:]}"),
            "months": f"{start.isoformat()[:7]}/{end.isoformat()[:7]}",
            "time": f"{start.isoformat()}T{rng.randint(5, 22):02d}:{rng.randint(0, 59):02d}"
                    + rng.choice(("Z", ":00Z", "+01:00", ":00+02:00", "")),
            "years": f"{year}/{min(2025, year + rng.randint(1, 5))}"}[form]
    event = {"eventDate": when, "recordedBy": _people(rng)}
    if form == "day" and rng.random() < 0.2:
        event["verbatimEventDate"] = f"{start.day} {start.strftime('%B')} {year}"
    if rng.random() < 0.3:
        event["recordNumber"] = str(rng.randint(1, 9999))
    if rng.random() < 0.4:
        event["identifiedBy"] = rng.choice(PEOPLE)
        identified = rng.randint(year, 2025)
        event["dateIdentified"] = (str(identified) if rng.random() < 0.3
                                   else _day(rng, identified).isoformat())
    return year, event


def _place(rng: random.Random, year: int, collection: Collection) -> dict[str, str]:
    country, code, continent, province, locality, latitude, longitude, spread, high = (
        rng.choice(PLACES))
    row = {"country": country, "countryCode": code, "continent": continent,
           "stateProvince": province, "locality": locality}
    if collection.habitats and rng.random() < 0.5:
        row["habitat"] = rng.choice(collection.habitats)
    if high > 50 and rng.random() < 0.25:
        row["minimumElevationInMeters"] = str(round(rng.uniform(0, high) / 10) * 10)
    if rng.random() < (0.6 if year < 1950 else 0.95):
        digits = rng.choice((2, 3, 3, 4, 4, 5, 5, 6)) if year >= 1950 else rng.choice((1, 2, 3))
        row["decimalLatitude"] = f"{latitude + rng.uniform(-spread, spread):.{digits}f}"
        row["decimalLongitude"] = f"{longitude + rng.uniform(-spread, spread):.{digits}f}"
        row["geodeticDatum"] = "WGS84"
        if rng.random() < 0.6:
            row["coordinateUncertaintyInMeters"] = str(rng.choice(
                (5, 10, 30, 100, 250, 1000, 5000, 10000)))
    return row


def _specimen(rng: random.Random, taxon: Taxon, collection: Collection) -> dict[str, str]:
    if taxon.collection == "fossils":
        row = {"basisOfRecord": "FossilSpecimen"}
    elif rng.random() < 0.05:
        row = {"basisOfRecord": "MaterialSample", "preparations": rng.choice(
            ("tissue in ethanol 96%", "DNA extract", "tissue, frozen"))}
    else:
        row = {"basisOfRecord": "PreservedSpecimen"}
    row.setdefault("preparations", rng.choice(collection.preparations))
    if collection.life_stages and rng.random() < 0.4:
        row["sex"] = rng.choice(("male", "female", "female", "male", "undetermined"))
        row["lifeStage"] = rng.choice(collection.life_stages)
        row["individualCount"] = str(rng.choice((1, 1, 1, 1, 2, 3, 5, 12)))
    return row


def _modified(rng: random.Random) -> str:
    when = _day(rng, rng.randint(2010, 2025))
    if rng.random() < 0.3:
        return when.isoformat()
    return f"{when.isoformat()}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:" \
           f"{rng.randint(0, 59):02d}Z"


def _media(rng: random.Random, institution: Institution, catalog: str,
           collection: Collection) -> Iterator[list[str]]:
    """None, or (30% of records) one to three images, in MEDIA_TERMS order."""
    if rng.random() >= 0.3:
        return
    for n in range(rng.choices((1, 2, 3), weights=(6, 3, 1))[0]):
        licence = rng.choices((CC0, CC_BY, "CC BY-SA 4.0"), weights=(6, 3, 1))[0]
        yield [institution.url(institution.image, catalog, n), "StillImage", "image/jpeg",
               f"{catalog}, {rng.choice(collection.views)}",
               _day(rng, rng.randint(2008, 2025)).isoformat(), rng.choice(CREATORS), licence,
               institution.name, institution.url(institution.page, catalog)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the zip file to write")
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    summary = write_archive(args.out, args.records, args.seed)
    print(f"{args.out}: {summary['records']:,} records, {summary['media_rows']:,} media rows, "
          f"{summary['bytes']:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
